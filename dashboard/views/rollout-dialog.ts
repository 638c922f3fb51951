import type { RolloutStep, RolloutView } from '../../core/formats/rollout.ts'
import { api, ApiError } from '../api.ts'
import { h, note, replace } from '../dom.ts'

/** A manual action of a rollout (the five buttons). */
export type Action = 'pause' | 'resume' | 'advance' | 'rollback' | 'promote'

/** The confirmation dialog of a manual action, pinned to the step the page shows. */
export function confirmAction(model: string, v: RolloutView, action: Action, after: (msg: HTMLElement) => void): void {
  const reason = h('input', {
    type: 'text',
    id: 'reason',
    maxlength: 500,
    placeholder: 'why (kept in the audit trail)',
  })
  const out = h('div', {})
  const dialog = h(
    'dialog',
    { 'data-testid': 'confirm-dialog', 'aria-labelledby': 'confirm-title' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (e: SubmitEvent) => {
          if ((e.submitter as HTMLButtonElement | null)?.value !== 'confirm') return
          e.preventDefault()
          try {
            const body = { expectStep: v.step, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) }
            await api<RolloutView>(`/v1/models/${model}/rollouts/${v.id}/${action}`, { method: 'POST', body })
            dialog.close()
            dialog.remove()
            after(note(`${action} done.`))
          } catch (err) {
            const msg =
              err instanceof ApiError && err.status === 409
                ? `The rollout moved on since this page was loaded (it was at step ${v.step + 1}, ${v.status}); nothing was changed. The edge said: ${err.message}. Reload to see where it stands now.`
                : err instanceof Error
                  ? err.message
                  : String(err)
            replace(out, note(msg, 'error'))
          }
        },
      },
      h('h2', { id: 'confirm-title' }, `${action[0].toUpperCase()}${action.slice(1)} rollout ${v.id}?`),
      h(
        'p',
        {},
        `Applies only if the rollout is still at step ${v.step + 1} (${v.config && (v.config as { steps?: RolloutStep[] }).steps?.[v.step]?.percent}%).`,
      ),
      h('label', { for: 'reason' }, 'Reason'),
      reason,
      out,
      h(
        'div',
        { class: 'toolbar' },
        h('button', { value: 'cancel', type: 'submit' }, 'Cancel'),
        h(
          'button',
          {
            value: 'confirm',
            type: 'submit',
            class: action === 'rollback' ? 'danger' : 'primary',
            'data-testid': 'confirm-action',
          },
          `Confirm ${action}`,
        ),
      ),
    ),
  )
  dialog.addEventListener('close', () => dialog.remove())
  document.body.append(dialog)
  dialog.showModal()
  reason.focus()
}
