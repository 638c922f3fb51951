import * as z from 'zod'
import { HF_DTYPES, HF_FILE_ROLES } from './hf-names.ts'

/**
 * @module
 * What a file of a Hugging Face model folder (format `hf-onnx`, the layout transformers.js reads) is
 * for. The registry derives both from the file's path when a version is published; manifests and
 * assignments carry them so a device (or a person) can tell the tokenizer from the weights.
 */

/** The part a file plays in a Hugging Face model folder. */
export const HfFileRole = z.enum(HF_FILE_ROLES)
export type HfFileRole = z.infer<typeof HfFileRole>

/**
 * The weight type of an ONNX file, as transformers.js names it (`pipeline(task, id, { dtype })`); the
 * file name carries it as a suffix: `model.onnx` fp32, `model_fp16.onnx`, `model_quantized.onnx` q8…
 */
export const HfDtype = z.enum(HF_DTYPES)
export type HfDtype = z.infer<typeof HfDtype>
