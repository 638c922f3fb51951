import type { ZodType } from 'zod'
import { ErrorBody } from '../../core/formats/error.ts'

/** A JSON request body for an OpenAPI route; a body is always required. */
export function jsonBody<T extends ZodType>(schema: T) {
  return { content: { 'application/json': { schema } }, required: true } as const
}

/** A JSON response for an OpenAPI route. */
export function json<T extends ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description } as const
}

const error = (description: string) => json(ErrorBody, description)

/** The error responses most authenticated routes can give. */
export const errors = {
  400: error('Invalid input: `validation_failed`, `invalid_json`, … with a JSON pointer'),
  401: error('No valid token: `unauthorized`'),
  403: error('The token lacks the scope: `forbidden`'),
} as const

export const notFound = { 404: error('Unknown model, version or resource: `not_found`') } as const
export const conflict = { 409: error('Conflict with the current state: `conflict`, `deprecated`') } as const

/** OpenAPI security requirement: a bearer token, or an app key for device routes. */
export const bearer: Record<string, string[]>[] = [{ bearer: [] }]
export const deviceKey: Record<string, string[]>[] = [{ appKey: [] }, { bearer: [] }]
