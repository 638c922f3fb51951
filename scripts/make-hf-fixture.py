"""
Generates test/fixtures/hf-tiny-bert: a small BERT-style sentence classifier in the Hugging Face hub
layout that transformers.js reads (config.json with its `transformers.js_config`, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, onnx/model.onnx in fp32 and onnx/model_quantized.onnx
in int8), plus expected.json: the logits onnxruntime gives for a few sentences in both dtypes.

The weights are random (seeded) and the WordPiece vocabulary holds the words of the sentences below: the
model is real in every way the loaders care about (graph, names, shapes, tokenizer), and small enough to
commit. Run once, from the repository root, in a virtual environment with torch (CPU), transformers,
tokenizers, onnx and onnxruntime installed:

    python3 -m venv /tmp/hf && /tmp/hf/bin/pip install torch transformers tokenizers onnx onnxruntime
    /tmp/hf/bin/python scripts/make-hf-fixture.py

CI does not need Python: the generated files are committed.
"""

import json
import os
import random
import shutil
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

OUT = os.path.join("test", "fixtures", "hf-tiny-bert")
LABELS = ["sun", "rain", "fog"]
SUBJECTS = ["the morning", "the afternoon", "this evening", "tomorrow", "the weekend", "the coast", "the city"]
WEATHER = [
    "bright and clear with sunshine",
    "grey with heavy rain showers",
    "thick fog over the water",
    "light drizzle and low clouds",
    "warm and dry under a blue sky",
    "misty and damp with poor visibility",
    "windy with scattered storms",
]
SENTENCES = [f"{s} will be {w}." for s in SUBJECTS for w in WEATHER]
PROBES = [
    "the morning will be bright and clear with sunshine.",
    "tomorrow will be grey with heavy rain showers.",
    "thick fog over the city this evening.",
    "an unseen word: zeppelin!",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    # A WordPiece vocabulary built in a fixed order (the trainer breaks ties differently from run to run):
    # the special tokens, every word and punctuation mark of the sentences, then single letters and their
    # `##` continuations so that unseen words still split into pieces.
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pre = pre_tokenizers.BertPreTokenizer()
    words = sorted({w for text in SENTENCES for w, _ in pre.pre_tokenize_str(text.lower())})
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = specials + words + [l for l in letters if l not in words] + [f"##{l}" for l in letters] + ["!", "?", ","]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(pieces))}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def main() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    tokenizer = build_tokenizer()
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(LABELS),
        # Wider than BERT's 0.02, so that random weights give logits that differ between sentences.
        initializer_range=0.5,
        id2label={i: l for i, l in enumerate(LABELS)},
        label2id={l: i for i, l in enumerate(LABELS)},
    )
    # Eager attention exports to plain MatMul/Softmax ops that every onnxruntime build runs.
    model = BertForSequenceClassification._from_config(config, attn_implementation="eager").eval()

    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        with open(os.path.join(tmp, "config.json")) as f:
            cfg = json.load(f)
    cfg["_name_or_path"] = "edgefleet/hf-tiny-bert"
    cfg["transformers.js_config"] = {"dtype": "fp32"}
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tokenizer.save_pretrained(OUT)
    # Name the class transformers.js (and older transformers) know for this WordPiece tokenizer.
    tc_path = os.path.join(OUT, "tokenizer_config.json")
    with open(tc_path) as f:
        tc = json.load(f)
    tc.pop("backend", None)
    tc["tokenizer_class"] = "BertTokenizer"
    tc["do_lower_case"] = True
    with open(tc_path, "w") as f:
        json.dump(tc, f, indent=2, sort_keys=True)
        f.write("\n")

    sample = tokenizer(["a short sentence."], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32 = os.path.join(OUT, "onnx", "model.onnx")
    torch.onnx.export(
        model,
        tuple(sample[n] for n in names),
        fp32,
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**{n: {0: "batch_size", 1: "sequence_length"} for n in names}, "logits": {0: "batch_size"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(fp32, os.path.join(OUT, "onnx", "model_quantized.onnx"), weight_type=QuantType.QInt8)

    expected = {"labels": LABELS, "probes": []}
    for text in PROBES:
        enc = tokenizer([text], return_tensors="np")
        feeds = {n: enc[n].astype(np.int64) for n in names}
        with torch.no_grad():
            torch_logits = model(**{n: torch.from_numpy(feeds[n]) for n in names}).logits.numpy()[0]
        entry = {"text": text, "input_ids": feeds["input_ids"][0].tolist(), "torch": torch_logits.tolist()}
        for dtype, path in [("fp32", "model.onnx"), ("quantized", "model_quantized.onnx")]:
            session = ort.InferenceSession(os.path.join(OUT, "onnx", path), providers=["CPUExecutionProvider"])
            entry[dtype] = session.run(["logits"], feeds)[0][0].tolist()
        assert np.allclose(entry["fp32"], torch_logits, atol=1e-4), (entry["fp32"], torch_logits)
        expected["probes"].append(entry)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    for root, _, files in os.walk(OUT):
        for name in sorted(files):
            path = os.path.join(root, name)
            print(f"{os.path.getsize(path):>9}  {path}")


if __name__ == "__main__":
    main()
