// The `lookup` of the DHCP sockets (udp/dgram.ts, loadgen.ts). dgram resolves the
// destination of every send() through dns.lookup, which for an address literal (the
// only kind these sockets ever send to: a client's or relay's source address) checks
// it with net.isIP's regular expressions and answers on the next tick: a visible part
// of the cost of each reply at load. Here a literal is answered at once, its family
// remembered; anything else still goes to dns.lookup, so send() behaves as before.
import dns from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

const families = new Map<string, number>();
/** Distinct destinations remembered before the memo starts over (a bound on memory). */
const MAX_REMEMBERED = 4096;

/** dgram's lookup (called as lookup(address, family, callback), node:internal/dgram lookup4/lookup6). */
export function literalLookup(address: string, family: unknown, callback: LookupCallback): void {
  let f = families.get(address);
  if (f === undefined) {
    f = isIP(address);
    if (f !== 0) {
      if (families.size >= MAX_REMEMBERED) families.clear();
      families.set(address, f);
    }
  }
  // A literal: itself and its family, what dns.lookup answers for one (whatever family was asked).
  if (f !== 0) callback(null, address, f);
  else dns.lookup(address, family as dns.LookupOptions, callback as never);
}
