/** Helpers for the AWS API suites: the outcome of an SDK call as the name of the error it threw, or 'OK'. */

/** Awaits `p`: 'OK' when it resolves, else the name of the error (e.g. 'AccessDeniedException'). */
export async function errorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    return (e as Error).name;
  }
}
