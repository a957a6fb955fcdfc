/** A store URL may carry a Redis password: never echo it back (`redis://user:pw@host` → `redis://***@host`). */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, "$1***@");
}
