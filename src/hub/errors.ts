// The OCI Distribution Spec's error codes (spec "Error Codes"), each with the status it is sent
// with. The registry's domain throws these; the HTTP layer turns them into the spec's JSON body.
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'BLOB_UPLOAD_UNKNOWN' | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN' | 'MANIFEST_INVALID' | 'MANIFEST_UNKNOWN' | 'NAME_INVALID'
  | 'NAME_UNKNOWN' | 'SIZE_INVALID' | 'UNAUTHORIZED' | 'DENIED' | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS' | 'RANGE_INVALID';

const STATUS: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404, BLOB_UPLOAD_INVALID: 400, BLOB_UPLOAD_UNKNOWN: 404, DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400, MANIFEST_INVALID: 400, MANIFEST_UNKNOWN: 404, NAME_INVALID: 400,
  NAME_UNKNOWN: 404, SIZE_INVALID: 400, UNAUTHORIZED: 401, DENIED: 403, UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429, RANGE_INVALID: 416,
};

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly status: number;
  readonly detail?: unknown;

  constructor(code: RegistryErrorCode, message: string, opts: { status?: number; detail?: unknown } = {}) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = opts.status ?? STATUS[code];
    if (opts.detail !== undefined) this.detail = opts.detail;
  }

  body(): { errors: { code: string; message: string; detail?: unknown }[] } {
    // RANGE_INVALID is ours (416 has no spec code): clients read it as BLOB_UPLOAD_INVALID.
    const code = this.code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : this.code;
    return { errors: [{ code, message: this.message, ...(this.detail !== undefined && { detail: this.detail }) }] };
  }
}

export const regErr = (code: RegistryErrorCode, message: string, opts?: { status?: number; detail?: unknown }): RegistryError =>
  new RegistryError(code, message, opts);
