/**
 * `column = ?` the way MySQL evaluates it for the JSON values the web module passes straight
 * from a request map: strings compare case-insensitively without trailing spaces (the default
 * collation), a string against a number compares numerically, and NULL matches nothing.
 */

import { DatabaseError } from "../comment-table.js";

/** MySQL's string-to-number cast: the leading numeric prefix, else 0. */
function toNumber(text: string): number {
  const match = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?/i.exec(text);
  return match ? Number(match[0]) : 0;
}

export function mysqlEquals(column: string | number, param: unknown): boolean {
  if (param === null || param === undefined) return false;
  if (Array.isArray(param)) throw new DatabaseError("Error 1241: Operand should contain 1 column(s)");
  if (typeof param === "object") {
    throw new DatabaseError(
      "sql: converting argument $1 type: unsupported type map[string]interface {}, a map",
    );
  }
  const value = typeof param === "boolean" ? Number(param) : (param as string | number);
  if (typeof column === "string" && typeof value === "string") {
    return column.replace(/ +$/, "").toLowerCase() === value.replace(/ +$/, "").toLowerCase();
  }
  const a = typeof column === "number" ? column : toNumber(column);
  const b = typeof value === "number" ? value : toNumber(value);
  return a === b;
}
