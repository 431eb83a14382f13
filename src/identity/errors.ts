/** Typed identity errors: account ids and the keystore file. */
import { ErrorCode, TallyError } from '../errors/index.js'

export class InvalidAccountIdError extends TallyError {
  override name = 'InvalidAccountIdError'
  override readonly code: ErrorCode = ErrorCode.invalidAccount
}

export class KeystoreError extends TallyError {
  override name = 'KeystoreError'
  override readonly code: ErrorCode = ErrorCode.keystore
}
/** no identity file in the data dir */
export class KeystoreNotFoundError extends KeystoreError {
  override name = 'KeystoreNotFoundError'
  override readonly code: ErrorCode = ErrorCode.keystoreNotFound
}
/** creating an identity where one already exists */
export class KeystoreExistsError extends KeystoreError {
  override name = 'KeystoreExistsError'
  override readonly code: ErrorCode = ErrorCode.keystoreExists
}
/** the file is readable by group or others */
export class KeystorePermissionError extends KeystoreError {
  override name = 'KeystorePermissionError'
  override readonly code: ErrorCode = ErrorCode.keystorePermission
}
/** missing or wrong passphrase for a sealed file */
export class KeystorePassphraseError extends KeystoreError {
  override name = 'KeystorePassphraseError'
  override readonly code: ErrorCode = ErrorCode.keystorePassphrase
}
/** malformed JSON or a bad field; `field` names it (e.g. "encrypted.nonce", "account") */
export class KeystoreFormatError extends KeystoreError {
  override name = 'KeystoreFormatError'
  override readonly code: ErrorCode = ErrorCode.keystoreFormat
  readonly field: string
  constructor (field: string, problem: string) {
    super(`identity file: ${field}: ${problem}`)
    this.field = field
  }
}
