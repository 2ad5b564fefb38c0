import { describe, expect, it } from 'vitest';
import type { StopReason } from '../../src/proxy/translation/ir.js';
import {
  isUnknownStopReason,
  stopReasonFromAnthropic,
  stopReasonFromOpenAi,
  stopReasonToAnthropic,
  stopReasonToOpenAi,
} from '../../src/proxy/translation/stop-reasons.js';

describe('stop reasons from Anthropic', () => {
  const cases: [string, StopReason][] = [
    ['end_turn', { type: 'end_turn' }],
    ['max_tokens', { type: 'max_tokens' }],
    ['model_context_window_exceeded', { type: 'context_window' }],
    ['tool_use', { type: 'tool_use' }],
    ['stop_sequence', { type: 'stop_sequence' }],
    ['pause_turn', { type: 'pause_turn' }],
    ['refusal', { type: 'refusal' }],
    ['brand_new_reason', { type: 'unknown', value: 'brand_new_reason' }],
  ];

  it.each(cases)('maps %s', (value, expected) => {
    expect(stopReasonFromAnthropic(value)).toEqual(expected);
  });

  it('returns a fresh object on every call', () => {
    const first = stopReasonFromAnthropic('stop_sequence');
    if (first.type === 'stop_sequence') first.sequence = 'END';
    expect(stopReasonFromAnthropic('stop_sequence')).toEqual({ type: 'stop_sequence' });
  });
});

describe('stop reasons from OpenAI-family upstreams', () => {
  const cases: [string, StopReason][] = [
    ['stop', { type: 'end_turn' }],
    ['length', { type: 'max_tokens' }],
    ['tool_calls', { type: 'tool_use' }],
    ['function_call', { type: 'tool_use' }],
    ['content_filter', { type: 'content_filter' }],
    ['model_length', { type: 'context_window' }],
    ['model_context_window_exceeded', { type: 'context_window' }],
    ['sensitive', { type: 'content_filter' }],
    ['error', { type: 'error' }],
    ['network_error', { type: 'error' }],
    ['insufficient_system_resource', { type: 'error' }],
    ['something_else', { type: 'unknown', value: 'something_else' }],
  ];

  it.each(cases)('maps %s', (value, expected) => {
    expect(stopReasonFromOpenAi(value)).toEqual(expected);
  });
});

describe('stop reasons to Anthropic clients', () => {
  const cases: [StopReason, string, string | null][] = [
    [{ type: 'end_turn' }, 'end_turn', null],
    [{ type: 'max_tokens' }, 'max_tokens', null],
    [{ type: 'context_window' }, 'model_context_window_exceeded', null],
    [{ type: 'tool_use' }, 'tool_use', null],
    [{ type: 'stop_sequence', sequence: '###' }, 'stop_sequence', '###'],
    [{ type: 'stop_sequence' }, 'stop_sequence', null],
    [{ type: 'pause_turn' }, 'pause_turn', null],
    [{ type: 'refusal' }, 'refusal', null],
    [{ type: 'content_filter' }, 'refusal', null],
    [{ type: 'error' }, 'error', null],
    [{ type: 'unknown', value: 'odd' }, 'odd', null],
  ];

  it.each(cases)('renders %j', (reason, stopReason, stopSequence) => {
    const rendered = stopReasonToAnthropic(reason);
    expect(rendered.stop_reason).toBe(stopReason);
    expect(rendered.stop_sequence).toBe(stopSequence);
  });
});

describe('stop reasons to OpenAI clients', () => {
  const cases: [StopReason, string][] = [
    [{ type: 'end_turn' }, 'stop'],
    [{ type: 'max_tokens' }, 'length'],
    [{ type: 'context_window' }, 'length'],
    [{ type: 'tool_use' }, 'tool_calls'],
    [{ type: 'stop_sequence', sequence: '###' }, 'stop'],
    [{ type: 'pause_turn' }, 'stop'],
    [{ type: 'refusal' }, 'content_filter'],
    [{ type: 'content_filter' }, 'content_filter'],
    [{ type: 'error' }, 'error'],
    [{ type: 'unknown', value: 'odd' }, 'odd'],
  ];

  it.each(cases)('renders %j', (reason, finishReason) => {
    expect(stopReasonToOpenAi(reason)).toBe(finishReason);
  });
});

describe('unknown stop reasons', () => {
  it('are told apart from known ones', () => {
    expect(isUnknownStopReason(stopReasonFromOpenAi('odd'))).toBe(true);
    expect(isUnknownStopReason(stopReasonFromOpenAi('stop'))).toBe(false);
    expect(isUnknownStopReason(null)).toBe(false);
  });

  it('pass through both directions as received', () => {
    expect(stopReasonToAnthropic(stopReasonFromOpenAi('odd')).stop_reason).toBe('odd');
    expect(stopReasonToOpenAi(stopReasonFromAnthropic('odd'))).toBe('odd');
  });
});
