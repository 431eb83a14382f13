/** Typed identity errors. */
export class InvalidAccountIdError extends Error {
  override name = 'InvalidAccountIdError'
}
