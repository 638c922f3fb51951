import { describe, expect, it } from 'vitest'
import type * as z from 'zod'
import { FleetView } from '../../core/formats/fleet.ts'
import { RetrainPolicy } from '../../core/formats/policy.ts'
import { SloConfig } from '../../core/formats/slo.ts'
import { jsonPointer } from '../../core/json-pointer.ts'
import fleetInvalid from '../vectors/formats/fleet-view.invalid.json'
import fleetValid from '../vectors/formats/fleet-view.valid.json'
import policyInvalid from '../vectors/formats/retrain-policy.invalid.json'
import policyValid from '../vectors/formats/retrain-policy.valid.json'
import sloInvalid from '../vectors/formats/slo-config.invalid.json'
import sloValid from '../vectors/formats/slo-config.valid.json'

type Valid = { name: string; value: unknown; parsed?: unknown }
type Invalid = { name: string; value: unknown; pointer: string }

const FORMATS: { format: string; schema: z.ZodType; valid: Valid[]; invalid: Invalid[] }[] = [
  { format: 'fleet-view', schema: FleetView, valid: fleetValid as Valid[], invalid: fleetInvalid as Invalid[] },
  {
    format: 'retrain-policy',
    schema: RetrainPolicy,
    valid: policyValid as Valid[],
    invalid: policyInvalid as Invalid[],
  },
  { format: 'slo-config', schema: SloConfig, valid: sloValid as Valid[], invalid: sloInvalid as Invalid[] },
]

describe.each(FORMATS)('$format golden examples', ({ schema, valid, invalid }) => {
  it.each(valid)('accepts: $name', ({ value, parsed }) => {
    const r = schema.safeParse(value)
    expect(r.error).toBeUndefined()
    expect(r.data).toEqual(parsed ?? value)
  })

  it.each(invalid)('refuses: $name (at "$pointer")', ({ value, pointer }) => {
    const r = schema.safeParse(value)
    expect(r.success).toBe(false)
    expect(jsonPointer(r.error!.issues[0].path)).toBe(pointer)
  })
})
