import { describe, expect, it } from 'vitest';
import { mqttToSubject, subjectToMqtt } from '../../../cloud/broker/nats.js';
import { filters, topics } from '../../../protocols/mqtt/index.js';

// NATS maps MQTT topics to subjects for its MQTT clients: `/` -> `.`, `.` -> `//`, `+` -> `*`,
// `#` -> `>`. The cloud must use the same mapping, or acks never reach the edge's MQTT session.
describe('MQTT topic <-> NATS subject (issue 14 §5)', () => {
  it('maps the movements filter onto the stream subjects', () => {
    expect(mqttToSubject(filters.movements)).toBe('stockgate.v1.*.*.movements');
    expect(mqttToSubject('stockgate/v1/#')).toBe('stockgate.v1.>');
  });

  it('maps a dot inside a site id to // and back', () => {
    const t = topics.acks('depot.1', 'dock-1');
    expect(mqttToSubject(t)).toBe('stockgate.v1.depot//1.dock-1.acks');
    expect(subjectToMqtt(mqttToSubject(t))).toBe(t);
  });
});
