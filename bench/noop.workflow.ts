// The bench's baseline: a workflow that does nothing, so one execute() is a bare Temporal round
// trip (start → workflow task on a worker → completion → result) on the same dev server.
export async function noopWorkflow(): Promise<string> {
  return 'ok';
}
