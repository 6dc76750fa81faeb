/**
 * Subscriptions indexed by filter level, so finding the ones that match a topic costs about the
 * depth of the topic, not the number of subscriptions. MQTT rules: `+` matches one level, `#`
 * the rest (and the parent level itself); a topic starting with `$` is not matched by a filter
 * starting with a wildcard.
 */
interface Node<T> {
  readonly children: Map<string, Node<T>>;
  /** Values whose filter ends at this node. */
  readonly values: Set<T>;
}

const node = <T>(): Node<T> => ({ children: new Map(), values: new Set() });

export class TopicTree<T> {
  private readonly root: Node<T> = node();

  add(filter: string, value: T): void {
    let current = this.root;
    for (const level of filter.split("/")) {
      let next = current.children.get(level);
      if (!next) {
        next = node();
        current.children.set(level, next);
      }
      current = next;
    }
    current.values.add(value);
  }

  delete(filter: string, value: T): void {
    const path: Node<T>[] = [this.root];
    const levels = filter.split("/");
    for (const level of levels) {
      const next = path[path.length - 1]!.children.get(level);
      if (!next) return;
      path.push(next);
    }
    path[path.length - 1]!.values.delete(value);
    // Prune empty branches so the tree does not keep filters nobody uses.
    for (let i = levels.length; i > 0; i--) {
      const child = path[i]!;
      if (child.values.size > 0 || child.children.size > 0) break;
      path[i - 1]!.children.delete(levels[i - 1]!);
    }
  }

  /** Every value whose filter matches `topic`, each once. */
  match(topic: string): Set<T> {
    const found = new Set<T>();
    this.#walk(this.root, topic.split("/"), 0, topic.startsWith("$"), found);
    return found;
  }

  #walk(current: Node<T>, levels: string[], index: number, dollar: boolean, found: Set<T>): void {
    const wildcardsAllowed = !(dollar && index === 0);
    const hash = wildcardsAllowed ? current.children.get("#") : undefined;
    if (hash) for (const value of hash.values) found.add(value);
    if (index === levels.length) {
      for (const value of current.values) found.add(value);
      return;
    }
    const exact = current.children.get(levels[index]!);
    if (exact) this.#walk(exact, levels, index + 1, dollar, found);
    const plus = wildcardsAllowed ? current.children.get("+") : undefined;
    if (plus) this.#walk(plus, levels, index + 1, dollar, found);
  }
}
