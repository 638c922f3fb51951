import { EdgefleetError } from '../errors.ts'
import type { RolloutConfig, RolloutState } from '../formats/rollout.ts'

/** What can happen to a rollout: the decisions of `decide` that move it, and the operators' actions. */
export type RolloutTransitionAction = 'advance' | 'rollback' | 'promote' | 'pause' | 'resume'

/** Event type of each transition (every transition is an event). */
export const TRANSITION_EVENT: Record<RolloutTransitionAction, string> = {
  advance: 'rollout.advanced',
  rollback: 'rollout.rolled_back',
  promote: 'rollout.promoted',
  pause: 'rollout.paused',
  resume: 'rollout.resumed',
}

/** Transitions people must hear about: they also go to the policy's webhook. */
export const NOTIFIED: ReadonlySet<RolloutTransitionAction> = new Set(['rollback', 'promote', 'pause'])

/** True while a rollout still serves its candidate share (the one active rollout of a model). */
export function isActive(state: Pick<RolloutState, 'status'>): boolean {
  return state.status === 'running' || state.status === 'paused'
}

/**
 * The state after `action`, or a `conflict` error saying why it cannot apply. The table:
 *
 * | from \ action | pause  | resume              | advance          | rollback    | promote  |
 * |---------------|--------|---------------------|------------------|-------------|----------|
 * | running       | paused | conflict            | step + 1, clock reset | rolled_back | promoted |
 * | paused        | conflict | running, clock reset | step + 1 (stays paused) | rolled_back | promoted |
 * | rolled_back / promoted | conflict | conflict | conflict | conflict | conflict |
 *
 * Advancing past the last step is a conflict (promote instead); an `ab` rollout has one step and
 * so never advances. Resume restarts the step's clock: evidence counts again from the moment the
 * operator let it continue (a paused step's minimum minutes are not served while paused).
 */
export function nextState(
  config: Pick<RolloutConfig, 'steps' | 'mode'>,
  state: RolloutState,
  action: RolloutTransitionAction,
  now: number,
): RolloutState {
  if (!isActive(state)) throw new EdgefleetError('conflict', `rollout ${state.id} has ended (${state.status})`)
  switch (action) {
    case 'pause':
      if (state.status === 'paused') throw new EdgefleetError('conflict', `rollout ${state.id} is already paused`)
      return { ...state, status: 'paused' }
    case 'resume':
      if (state.status === 'running') throw new EdgefleetError('conflict', `rollout ${state.id} is not paused`)
      return { ...state, status: 'running', stepStartedAt: now }
    case 'advance':
      if (state.step + 1 >= config.steps.length)
        throw new EdgefleetError(
          'conflict',
          config.mode === 'ab'
            ? `an ab rollout has one fixed split: promote or roll back`
            : `rollout ${state.id} is at its last step: promote it instead`,
        )
      return { ...state, step: state.step + 1, stepStartedAt: now }
    case 'rollback':
      return { ...state, status: 'rolled_back', stepStartedAt: state.stepStartedAt }
    case 'promote':
      return { ...state, status: 'promoted' }
  }
}
