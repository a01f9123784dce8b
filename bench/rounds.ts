// The DHCP 4o6 bench's --rounds summary (dhcp4o6.bench.ts): every target measured in
// turn, round after round, and the medians over the rounds.

/** What a round says of one target (dhcp4o6.bench.ts Figure). */
export interface RoundFigure {
  target: string;
  /** The median of the target's runs in the round; 0 when it did not run. */
  leasesPerSecond: number;
  serverCpuUs?: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * One row per round (each target's figure, and each xbr target over the Kea of the
 * same round), then the median of every column. A ratio's median is the median of
 * the rounds' ratios, not a ratio of medians: each ratio compares two figures
 * measured a minute apart.
 */
export function roundsTable(rounds: readonly (readonly RoundFigure[])[], repeat: number, clients: number): string {
  const targets = rounds[0].map((f) => f.target);
  const xbr = targets.filter((t) => t.startsWith('xbr'));
  const rate = (fs: readonly RoundFigure[], t: string) => fs.find((f) => f.target === t)?.leasesPerSecond ?? 0;
  const cpu = (fs: readonly RoundFigure[], t: string) => fs.find((f) => f.target === t)?.serverCpuUs;
  const ratio = (fs: readonly RoundFigure[], t: string) => {
    const kea = rate(fs, 'kea-2.2');
    return kea > 0 && rate(fs, t) > 0 ? rate(fs, t) / kea : undefined;
  };
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const x = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  const us = (vs: (number | undefined)[]) => {
    const known = vs.filter((v): v is number => v !== undefined);
    return known.length === 0 ? '-' : `${median(known)} µs`;
  };
  const head = ['round', ...targets.map((t) => `${t} leases/s (CPU per lease)`), ...xbr.map((t) => `${t} / Kea`)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  rounds.forEach((fs, i) => {
    const cells = [String(i + 1), ...targets.map((t) => `${n(rate(fs, t))} (${us([cpu(fs, t)])})`), ...xbr.map((t) => x(ratio(fs, t)))];
    lines.push(`| ${cells.join(' | ')} |`);
  });
  const med = [
    'median',
    ...targets.map((t) => `**${n(median(rounds.map((fs) => rate(fs, t))))}** (${us(rounds.map((fs) => cpu(fs, t)))})`),
    ...xbr.map((t) => {
      const rs = rounds.map((fs) => ratio(fs, t)).filter((v): v is number => v !== undefined);
      return rs.length === 0 ? '-' : `**${x(median(rs))}**`;
    }),
  ];
  lines.push(`| ${med.join(' | ')} |`);
  lines.push(`(each figure: the median of ${repeat} runs of ${clients.toLocaleString('en-US')} clients; ${rounds.length} rounds, every target in turn)`);
  return lines.join('\n');
}
