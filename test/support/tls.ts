/**
 * A throwaway PKI for TLS tests, made with the `openssl` CLI (Debian package `openssl`): a CA, a
 * broker certificate it signs (for 127.0.0.1 and localhost), and the certificates of the ways TLS
 * goes wrong: an unrelated CA, a certificate for another name, an expired one, and the broker
 * certificate bundled with its CA (so the chain the broker sends ends in a self-signed root).
 * EC P-256 keys: quick to make. Valid for two days; nothing outlives the test run.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary, tempDir } from "./system.js";

export const opensslBinary = requireBinary("openssl", "/usr/bin/openssl");

/** Paths of a certificate (PEM) and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA that signed every broker certificate here (PEM text, for the `ca` option). */
  readonly ca: string;
  /** Another CA, that signed nothing here: trusting only it must fail. */
  readonly otherCa: string;
  /** For 127.0.0.1 and localhost, signed by `ca`. */
  readonly broker: CertFiles;
  /** `broker`'s certificate followed by the CA's: the broker sends the whole chain. */
  readonly brokerWithChain: CertFiles;
  /** Signed by `ca`, but only for the name other.invalid. */
  readonly wrongName: CertFiles;
  /** Signed by `ca`, expired. */
  readonly expired: CertFiles;
  remove(): void;
}

export function createTestPki(): TestPki {
  const dir = tempDir("pki");
  const at = (name: string) => join(dir.path, name);
  const openssl = (...args: string[]) =>
    execFileSync(opensslBinary.path, args, { cwd: dir.path, stdio: "pipe" });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

  const makeCa = (name: string) => {
    openssl(
      "req",
      "-x509",
      ...newKey,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.crt`),
      "-days",
      "2",
      "-subj",
      `/CN=gmq test ${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  };
  const makeLeaf = (name: string, altNames: string, days: string): CertFiles => {
    openssl(
      "req",
      ...newKey,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.csr`),
      "-subj",
      `/CN=gmq ${name}`,
    );
    writeFileSync(
      at(`${name}.ext`),
      `subjectAltName=${altNames}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    // prettier-ignore
    openssl(
      "x509",
      "-req",
      "-in",
      at(`${name}.csr`),
      "-CA",
      at("ca.crt"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-out",
      at(`${name}.crt`),
      "-days",
      days,
      "-extfile",
      at(`${name}.ext`),
    );
    return { cert: at(`${name}.crt`), key: at(`${name}.key`) };
  };

  makeCa("ca");
  makeCa("other-ca");
  const broker = makeLeaf("broker", "IP:127.0.0.1,DNS:localhost", "2");
  const chain = at("broker-chain.crt");
  writeFileSync(chain, readFileSync(broker.cert, "utf8") + readFileSync(at("ca.crt"), "utf8"));
  return {
    dir: dir.path,
    ca: readFileSync(at("ca.crt"), "utf8"),
    otherCa: readFileSync(at("other-ca.crt"), "utf8"),
    broker,
    brokerWithChain: { cert: chain, key: broker.key },
    wrongName: makeLeaf("wrong-name", "DNS:other.invalid", "2"),
    // -days -1: not after is a day before not before, which is now.
    expired: makeLeaf("expired", "IP:127.0.0.1,DNS:localhost", "-1"),
    remove: dir.remove,
  };
}
