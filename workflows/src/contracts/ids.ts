/** Resource id prefixes (API.md "Ids are prefixed strings"). */
export const ID_PREFIX = {
  org: 'org_',
  key: 'key_',
  prompt: 'pmt_',
  version: 'ver_',
  run: 'run_',
  workflow: 'wf_',
  workflowRun: 'wfr_',
  webhook: 'whk_',
  message: 'msg_',
  event: 'evt_',
  member: 'mbr_',
  alert: 'alr_',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

export function hasPrefix(kind: IdKind, value: string): boolean {
  return value.startsWith(ID_PREFIX[kind]);
}
