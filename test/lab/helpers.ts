// Shared by the netns lab's integration tests (test/lab/): they need root, the
// AF_XDP addon, the built dist/ and the lab's tools (scripts/install-deps.sh).
// Locally a missing prerequisite skips them; under CI (CI=true) it fails them.
import { labMissing } from '../../bench/lab/prereq.js';

export function requireLab(): { skip: string | null } {
  const reason = labMissing();
  if (reason !== null && process.env.CI === 'true') {
    throw new Error(`netns lab tests cannot run under CI: ${reason}`);
  }
  if (reason !== null) console.warn(`test/lab: skipping the netns lab tests: ${reason}`);
  return { skip: reason };
}
