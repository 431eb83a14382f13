/** Typed identity errors: account ids and the keystore file. */
export class InvalidAccountIdError extends Error {
  override name = 'InvalidAccountIdError'
}

export class KeystoreError extends Error {
  override name = 'KeystoreError'
}
/** no identity file in the data dir */
export class KeystoreNotFoundError extends KeystoreError {
  override name = 'KeystoreNotFoundError'
}
/** creating an identity where one already exists */
export class KeystoreExistsError extends KeystoreError {
  override name = 'KeystoreExistsError'
}
/** the file is readable by group or others */
export class KeystorePermissionError extends KeystoreError {
  override name = 'KeystorePermissionError'
}
/** missing or wrong passphrase for a sealed file */
export class KeystorePassphraseError extends KeystoreError {
  override name = 'KeystorePassphraseError'
}
/** malformed JSON or a bad field; `field` names it (e.g. "encrypted.nonce", "account") */
export class KeystoreFormatError extends KeystoreError {
  override name = 'KeystoreFormatError'
  readonly field: string
  constructor (field: string, problem: string) {
    super(`identity file: ${field}: ${problem}`)
    this.field = field
  }
}
