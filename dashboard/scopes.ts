import type { Scope } from '../core/formats/registry.ts'

/** Who is signed in, as `GET /v1/tokens/self` tells. */
export interface Me {
  name: string
  scopes: Scope[]
}

/** True when the token holds `scope` (admin holds all; registry:write implies registry:read), as the edge decides. */
export function can(me: Me, scope: Scope): boolean {
  return me.scopes.some((s) => s === 'admin' || s === scope || (s === 'registry:write' && scope === 'registry:read'))
}
