/**
 * Values indexed by MQTT filter, so the ones matching a topic are found in about the depth of the
 * topic rather than the number of filters. `+` matches one level, `#` the rest and the parent
 * level; a topic starting with `$` is not matched by a filter starting with a wildcard. (The core
 * has the same structure but does not export it; adapters import only the public entry.)
 */
interface Level<T> {
  readonly children: Map<string, Level<T>>;
  readonly values: Set<T>;
}

const level = <T>(): Level<T> => ({ children: new Map(), values: new Set() });

export class TopicIndex<T> {
  private readonly root: Level<T> = level();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(filter: string, value: T): void {
    let current = this.root;
    for (const name of filter.split("/")) {
      let next = current.children.get(name);
      if (!next) {
        next = level();
        current.children.set(name, next);
      }
      current = next;
    }
    if (!current.values.has(value)) this.count++;
    current.values.add(value);
  }

  delete(filter: string, value: T): void {
    const names = filter.split("/");
    const path: Level<T>[] = [this.root];
    for (const name of names) {
      const next = path[path.length - 1]!.children.get(name);
      if (!next) return;
      path.push(next);
    }
    if (path[path.length - 1]!.values.delete(value)) this.count--;
    for (let i = names.length; i > 0; i--) {
      const child = path[i]!;
      if (child.values.size > 0 || child.children.size > 0) break;
      path[i - 1]!.children.delete(names[i - 1]!);
    }
  }

  /** Calls `visit` once for every value whose filter matches `topic`. */
  match(topic: string, visit: (value: T) => void): void {
    this.walk(this.root, topic.split("/"), 0, topic.startsWith("$"), visit);
  }

  private walk(
    current: Level<T>,
    names: string[],
    index: number,
    dollar: boolean,
    visit: (value: T) => void,
  ) {
    const wildcards = !(dollar && index === 0);
    const hash = wildcards ? current.children.get("#") : undefined;
    if (hash) for (const value of hash.values) visit(value);
    if (index === names.length) {
      for (const value of current.values) visit(value);
      return;
    }
    const exact = current.children.get(names[index]!);
    if (exact) this.walk(exact, names, index + 1, dollar, visit);
    const plus = wildcards ? current.children.get("+") : undefined;
    if (plus) this.walk(plus, names, index + 1, dollar, visit);
  }
}
