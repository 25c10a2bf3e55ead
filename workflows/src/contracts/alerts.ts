/** One evaluation of every enabled alert rule, at `now` (ISO-8601; default: the activity's clock). */
export interface EvaluateAlertsRequest {
  now?: string | undefined;
}

export interface EvaluateAlertsResult {
  evaluated: number;
  /** ids of the rules that fired in this evaluation (each wrote one usage.alert event) */
  fired: string[];
}

/** The activities of the alert evaluation workflow; workers implement them (createActivities). */
export interface AlertActivities {
  evaluateAlerts(req: EvaluateAlertsRequest): Promise<EvaluateAlertsResult>;
}
