import * as z from 'zod'

/**
 * A Sigstore bundle (v0.3 JSON) signing a version's files with the OpenSSF model signing format, in
 * key mode: a DSSE envelope of an in-toto statement and the hint of the signer's public key. The schema
 * holds its shape for the API; core/signing/bundle.ts checks the rest and verifies it.
 */
export const SigstoreBundle = z.looseObject({
  mediaType: z.string().max(128),
  verificationMaterial: z.looseObject({
    publicKey: z.looseObject({ hint: z.string().max(128).nullable().optional() }).optional(),
  }),
  dsseEnvelope: z.looseObject({
    payload: z
      .string()
      .min(1)
      .max(256 * 1024),
    payloadType: z.string().max(128),
    signatures: z
      .array(z.looseObject({ sig: z.string().min(1).max(1024), keyid: z.string().max(256).nullable().optional() }))
      .min(1)
      .max(8),
  }),
})
export type SigstoreBundle = z.infer<typeof SigstoreBundle>
