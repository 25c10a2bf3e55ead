import { newId } from '@promptmill/infra';
import {
  type AlertRuleRow,
  deleteAlertRule,
  findAlertRule,
  findKeyById,
  insertAlertRule,
  listAlertRules,
  type Sql,
  updateAlertRule,
} from '@promptmill/infra/db';
import type { AuthContext } from '../auth/auth-context.ts';
import { AppError } from '../http/app-error.ts';
import type { Page } from '../http/pagination.ts';
import type { AlertView, CreateAlert } from './alerts.schemas.ts';

export function toAlertView(r: AlertRuleRow): AlertView {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    enabled: r.enabled,
    thresholdPercent: r.thresholdPercent,
    windowMinutes: r.windowMinutes,
    minRequests: r.minRequests,
    amountUsd: r.amountUsd,
    keyId: r.keyId,
    state: r.enabled ? r.state : 'disabled',
    lastValue: r.lastValue,
    lastEvaluatedAt: r.lastEvaluatedAt?.toISOString() ?? null,
    lastFiredAt: r.lastFiredAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  };
}

const notFound = (id: string) => new AppError('ALERT_NOT_FOUND', `Alert '${id}' not found`);

export async function createAlert(sql: Sql, auth: AuthContext, body: CreateAlert): Promise<AlertView> {
  const keyId = body.type === 'usage_threshold' ? (body.keyId ?? null) : null;
  if (keyId && !(await findKeyById(sql, auth.org.id, keyId))) {
    throw new AppError('VALIDATION_ERROR', 'Invalid request parameters', {
      details: [{ field: 'keyId', message: 'no such key in this organization' }],
    });
  }
  const row = await insertAlertRule(sql, {
    id: newId('alert'),
    orgId: auth.org.id,
    type: body.type,
    name: body.name ?? '',
    enabled: body.enabled,
    thresholdPercent: body.type === 'cost_threshold' ? null : body.thresholdPercent,
    windowMinutes: body.type === 'error_rate' ? body.windowMinutes : null,
    minRequests: body.type === 'error_rate' ? body.minRequests : null,
    amountUsd: body.type === 'cost_threshold' ? body.amountUsd : null,
    keyId,
  });
  return toAlertView(row);
}

export async function listAlerts(sql: Sql, auth: AuthContext, page: Page) {
  const { rows, total } = await listAlertRules(sql, auth.org.id, {
    limit: page.perPage,
    offset: page.offset,
  });
  return { alerts: rows.map(toAlertView), total };
}

export async function getAlert(sql: Sql, auth: AuthContext, id: string): Promise<AlertView> {
  const row = await findAlertRule(sql, auth.org.id, id);
  if (!row) throw notFound(id);
  return toAlertView(row);
}

export async function updateAlert(
  sql: Sql,
  auth: AuthContext,
  id: string,
  patch: { enabled?: boolean | undefined; name?: string | undefined },
): Promise<AlertView> {
  const row = await updateAlertRule(sql, auth.org.id, id, patch);
  if (!row) throw notFound(id);
  return toAlertView(row);
}

export async function removeAlert(sql: Sql, auth: AuthContext, id: string): Promise<void> {
  if (!(await deleteAlertRule(sql, auth.org.id, id))) throw notFound(id);
}
