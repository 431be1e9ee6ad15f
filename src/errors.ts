// Typed domain errors. Each carries a stable code and the HTTP status the API maps it to;
// the HTTP layer does that mapping and nothing else (DESIGN.md, "Errors and output").

export type ErrorCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'CONFLICT' | 'INTERNAL';

const statusByCode: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INTERNAL: 500,
};

export class CunikError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** The request field at fault, for INVALID_ARGUMENT. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'CunikError';
    this.code = code;
    this.status = statusByCode[code];
    if (field !== undefined) this.field = field;
  }
}

export const invalid = (message: string, field?: string): CunikError =>
  new CunikError('INVALID_ARGUMENT', message, field);
export const notFound = (message: string): CunikError => new CunikError('NOT_FOUND', message);
export const conflict = (message: string): CunikError => new CunikError('CONFLICT', message);
