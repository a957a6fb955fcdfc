/**
 * A store URL may carry Redis passwords: never echo them back (`redis://user:pw@host` →
 * `redis://***@host`, also for `redis+sentinel://`, and `?sentinel_password=…` → `=***`).
 */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?(?:\+sentinel)?:\/\/)[^@/]*@/i, "$1***@").replace(/([?&]sentinel_password=)[^&#]*/gi, "$1***");
}
