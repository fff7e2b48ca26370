/**
 * `p`'s value, or null once `ms` have passed (p's own outcome is then nobody's to hear: the race has
 * subscribed to it, so a late rejection is not unhandled). A rejection within `ms` rejects. The timer is
 * cleared either way, so nothing is left pending in the request's context.
 */
export async function withinDeadline<P extends PromiseLike<unknown>>(
  p: P,
  ms: number,
): Promise<Awaited<P> | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return (await Promise.race([p, late])) as Awaited<P> | null;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
