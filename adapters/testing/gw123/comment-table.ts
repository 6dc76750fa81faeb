/**
 * The `comments` table both gw123 servers read and write (spec §2 and §3 share it): an in-memory
 * stand-in for the MySQL table, with its column limits and a switch to make every query fail.
 */

export interface CommentRow {
  /** AUTO_INCREMENT, from 1. */
  readonly id: number;
  readonly type: string;
  readonly targetId: number;
  readonly userId: number;
  readonly parentId: number;
  readonly content: string;
  readonly clientId: string;
  /** Set by the HTTP route from the caller's address; "" from gRPC. */
  readonly ip: string;
  /** Unix seconds. */
  readonly createdAt: number;
}

export type NewComment = Omit<CommentRow, "id">;

/** A failed query; the message is the MySQL driver's text, which the servers pass on as is. */
export class DatabaseError extends Error {
  override readonly name = "DatabaseError";
}

/** varchar sizes of the upstream schema, in characters. */
const COLUMN_LIMITS: ReadonlyArray<[keyof NewComment, string, number]> = [
  ["type", "type", 10],
  ["content", "content", 4096],
  ["clientId", "client_id", 40],
];

export interface CommentTableOptions {
  /**
   * Refuse values longer than their column, like MySQL in strict mode (`Error 1406: Data too long
   * for column 'type' at row 1`). Default true.
   */
  readonly strictColumns?: boolean;
}

export class CommentTable {
  readonly #rows: CommentRow[] = [];
  readonly #strict: boolean;
  #nextId = 1;
  /** While set, every query fails with this driver text (e.g. `Error 2006: MySQL server has gone away`). */
  failure: string | undefined;

  constructor(options: CommentTableOptions = {}) {
    this.#strict = options.strictColumns ?? true;
  }

  /** The rows in storage order (the order a query without ORDER BY returns). */
  get rows(): readonly CommentRow[] {
    return [...this.#rows];
  }

  insert(values: NewComment): CommentRow {
    this.#check();
    if (this.#strict) {
      for (const [key, column, limit] of COLUMN_LIMITS) {
        if ([...String(values[key])].length > limit)
          throw new DatabaseError(`Error 1406: Data too long for column '${column}' at row 1`);
      }
    }
    const row: CommentRow = { ...values, id: this.#nextId++ };
    this.#rows.push(row);
    return row;
  }

  select(where: (row: CommentRow) => boolean): CommentRow[] {
    this.#check();
    return this.#rows.filter(where);
  }

  clear(): void {
    this.#rows.length = 0;
  }

  #check(): void {
    if (this.failure !== undefined) throw new DatabaseError(this.failure);
  }
}
