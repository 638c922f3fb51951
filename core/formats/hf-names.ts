/**
 * @module
 * The names of the parts of a Hugging Face model folder, as plain lists without the validation library,
 * so the SDK can check an assignment's files against the same names the registry's schemas enforce
 * (core/formats/hf.ts).
 */

/** The part a file plays in a Hugging Face model folder. */
export const HF_FILE_ROLES = [
  'config',
  'tokenizer',
  'tokenizer-config',
  'generation-config',
  'preprocessor-config',
  'onnx',
  'onnx-data',
] as const

/** The weight types of an ONNX file, as transformers.js names them (`pipeline(task, id, { dtype })`). */
export const HF_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const
