import type { Model, ModelPage } from '../core/formats/registry.ts'
import { storedToken } from './session.ts'

/** An error answer of the edge: its HTTP status and stable code (docs/DESIGN.md, errors). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly pointer?: string,
  ) {
    super(message)
  }
}

/** Calls the public `/v1` API with the tab's token; rejects with ApiError on a non-2xx answer. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const token = init.token ?? storedToken()
  const headers: Record<string, string> = {}
  if (token) headers.Authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await res.text()
  const json: unknown = text ? JSON.parse(text) : null
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; pointer?: string } } | null)?.error
    throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.pointer)
  }
  return json as T
}

/** Same as `api` but resolves to null on a 404 (an absent rollout, say). */
export async function apiOrNull<T>(path: string): Promise<T | null> {
  try {
    return await api<T>(path)
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null
    throw e
  }
}

/** Every model, following `GET /v1/models`'s pages (1,000 names each). */
export async function allModels(): Promise<Model[]> {
  const models: Model[] = []
  let after: string | null = null
  do {
    const page: ModelPage = await api<ModelPage>(
      `/v1/models?limit=1000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
    )
    models.push(...page.models)
    // An edge from before pagination answers every model and no `next`.
    after = page.next ?? null
  } while (after !== null)
  return models
}
