/**
 * The part of Structured Field Values (RFC 8941) that RFC 9421's headers use:
 * dictionaries of items and inner lists with parameters, parsed strictly and serialised
 * canonically (the signature base holds the re-serialised `@signature-params`).
 */
import { VerificationError, base64Decode } from "./common.js";

export class Token {
  constructor(readonly value: string) {}
}
/** A decimal, in thousandths. */
export class Decimal {
  constructor(readonly thousandths: number) {}
}
export type BareItem = number | string | Token | Uint8Array | boolean | Decimal;
export type Params = [string, BareItem][];
export interface Item {
  kind: "item";
  value: BareItem;
  params: Params;
}
export interface InnerList {
  kind: "list";
  items: Item[];
  params: Params;
}
export type Member = Item | InnerList;

const MAX_LEN = 16 * 1024;

function bad(why: string): VerificationError {
  return new VerificationError("malformed", `structured field: ${why}`);
}

class Parser {
  private pos = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text.replace(/^ +| +$/g, "");
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  eat(char: string): boolean {
    if (this.peek() !== char || char === "") return false;
    this.pos++;
    return true;
  }

  skip(chars: string): void {
    while (this.peek() !== "" && chars.includes(this.peek())) this.pos++;
  }

  match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.pos;
    const found = pattern.exec(this.text);
    if (!found) return undefined;
    this.pos += found[0].length;
    return found[0];
  }

  key(): string {
    const key = this.match(/[a-z*][a-z0-9_\-.*]*/y);
    if (key === undefined) throw bad("a key must start with a-z or *");
    return key;
  }

  params(): Params {
    const params: Params = [];
    while (this.eat(";")) {
      this.skip(" ");
      const key = this.key();
      const value: BareItem = this.eat("=") ? this.bare() : true;
      if (params.some(([k]) => k === key)) throw bad(`duplicate parameter ${key}`);
      params.push([key, value]);
    }
    return params;
  }

  item(): Item {
    const value = this.bare();
    return { kind: "item", value, params: this.params() };
  }

  member(): Member {
    if (!this.eat("(")) return this.item();
    const items: Item[] = [];
    for (;;) {
      this.skip(" ");
      if (this.eat(")")) return { kind: "list", items, params: this.params() };
      items.push(this.item());
      if (this.peek() !== " " && this.peek() !== ")") throw bad("bad inner list");
    }
  }

  bare(): BareItem {
    const char = this.peek();
    if (char === "-" || (char >= "0" && char <= "9" && char !== "")) return this.number();
    if (char === '"') return this.string();
    if (char === ":") {
      const end = this.text.indexOf(":", this.pos + 1);
      if (end < 0) throw bad("unterminated byte sequence");
      const encoded = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return encoded === "" ? new Uint8Array() : base64Decode(encoded, "structured field: a byte sequence");
    }
    if (char === "?") {
      const flag = this.text.charAt(this.pos + 1);
      if (flag !== "0" && flag !== "1") throw bad("bad boolean");
      this.pos += 2;
      return flag === "1";
    }
    if (char === "*" || /[A-Za-z]/.test(char)) return new Token(this.match(/[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/y) ?? "");
    throw bad("not an item");
  }

  number(): BareItem {
    const text = this.match(/-?[0-9]+(?:\.[0-9]*)?/y);
    if (text === undefined) throw bad("a number needs digits");
    const negative = text.startsWith("-");
    const [integer = "", fraction] = text.replace("-", "").split(".");
    const sign = negative ? -1 : 1;
    if (fraction === undefined) {
      if (integer.length > 15) throw bad("integer too long");
      return sign * Number(integer);
    }
    if (integer.length > 12 || fraction.length === 0 || fraction.length > 3) throw bad("bad decimal");
    return new Decimal(sign * Number(integer + fraction.padEnd(3, "0")));
  }

  string(): string {
    this.pos++;
    let out = "";
    for (;;) {
      const char = this.peek();
      if (char === "") throw bad("unterminated string");
      this.pos++;
      if (char === '"') return out;
      if (char === "\\") {
        const escaped = this.peek();
        if (escaped !== '"' && escaped !== "\\") throw bad("bad escape");
        out += escaped;
        this.pos++;
      } else if (char >= " " && char <= "~") {
        out += char;
      } else {
        throw bad("bad character in string");
      }
    }
  }
}

/** A dictionary's members in order; a duplicate key is refused, not overwritten. */
export function parseDictionary(text: string): [string, Member][] {
  if (text.length > MAX_LEN) throw bad("too long");
  const parser = new Parser(text);
  const members: [string, Member][] = [];
  if (parser.peek() === "") return members;
  for (;;) {
    const key = parser.key();
    const member: Member = parser.eat("=") ? parser.member() : { kind: "item", value: true, params: parser.params() };
    if (members.some(([k]) => k === key)) throw bad(`duplicate key ${key}`);
    members.push([key, member]);
    parser.skip(" \t");
    if (parser.peek() === "") return members;
    if (!parser.eat(",")) throw bad("expected a comma");
    parser.skip(" \t");
    if (parser.peek() === "") throw bad("trailing comma");
  }
}

export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map((i) => bare(i.value) + params(i.params)).join(" ")})${params(list.params)}`;
}

function params(list: Params): string {
  return list.map(([k, v]) => `;${k}${v === true ? "" : "=" + bare(v)}`).join("");
}

function bare(value: BareItem): string {
  if (typeof value === "boolean") return value ? "?1" : "?0";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  if (value instanceof Token) return value.value;
  if (value instanceof Decimal) {
    const abs = Math.abs(value.thousandths);
    const fraction = String(abs % 1000).padStart(3, "0").replace(/0+$/, "") || "0";
    return `${value.thousandths < 0 ? "-" : ""}${Math.floor(abs / 1000)}.${fraction}`;
  }
  return `:${btoa(String.fromCharCode(...value))}:`;
}
