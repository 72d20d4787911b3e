/**
 * `npm run demo:seed`: the original design's demo (docs/architecture.md, "Default semantics") run
 * with real timers on `createCircuitBreaker` — TEST 1 normal operation, TEST 2 the circuit opens
 * after failures (threshold 3, as in its output), TEST 3 recovery through three half-open calls.
 */
import { CircuitOpenError, createCircuitBreaker } from '../src/index.js';

const breaker = createCircuitBreaker({
  id: 'agent-1',
  failureThreshold: 3,
  // The original demo waits 6 s before its recovery test; any backoff shorter than that reproduces it.
  backoff: { initialMs: 5000 },
});
const line = (text: string) => console.log(text);

async function call(label: string, work: () => Promise<string>): Promise<void> {
  try {
    await breaker.execute(work);
    line(`  ${label}: ✓ Success`);
  } catch (error) {
    if (error instanceof CircuitOpenError) line(`  ${label}: 🔴 Circuit Open - Circuit OPEN for ${error.agentId}...`);
    else line(`  ${label}: ⚠️ Failed - ${(error as Error).message}`);
  }
}

const succeed = async () => 'ok';
const failing = async (): Promise<string> => {
  throw new Error('Agent failed!');
};

line('🚀 Circuit Breaker System');
line('='.repeat(50));
line('✅ TEST 1: Normal Operation');
for (let i = 1; i <= 3; i++) await call(`Call ${i}`, succeed);

line('');
line('❌ TEST 2: Circuit Opens After Failures');
for (let i = 1; i <= 5; i++) await call(`Call ${i}`, failing);

line('');
line('🔄 TEST 3: Recovery in Half-Open State');
await new Promise((resolve) => setTimeout(resolve, 6000));
line('  Waited 6 seconds, attempting recovery...');
for (let i = 1; i <= 3; i++) await call(`Half-open test call ${i}`, succeed);
if (breaker.state === 'closed') line('  🟢 Circuit CLOSED - Agent recovered!');
else line(`  Circuit is ${breaker.state}`);
breaker.stop();
