namespace AgentPlatform.Api;

/// <summary>Every message the Api logs, with its event id: 200x the Router, 201x limits, 202x usage, 203x cache, 204x alerts, 205x agents, 206x tenancy.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "The router is unreachable ({Error}).")]
    public static partial void RouterUnreachable(ILogger logger, HttpRequestError error, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "The router did not answer within {TimeoutSeconds} s.")]
    public static partial void RouterTimedOut(ILogger logger, double timeoutSeconds);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "The router's answer broke after it started; a stream was ended with a stream_interrupted error event, a JSON answer aborted.")]
    public static partial void RouterStreamBroken(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "An answer was still coming when the shutdown drain ended; it was cut.")]
    public static partial void AnswerEndedByShutdown(ILogger logger);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "A Router replica refused the connection (try {Attempt} of {Replicas}); the request goes to the next one.")]
    public static partial void RouterReplicaRefused(ILogger logger, int attempt, int replicas, Exception exception);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "An API key could not be looked up in Redis; known to this replica: {Known} (a known key is served as known, an unknown one refused with 503).")]
    public static partial void KeysUnavailable(ILogger logger, bool known, Exception exception);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Warning, Message = "A failed authentication could not be counted in Redis; the refusal stands.")]
    public static partial void FailedAuthenticationNotCounted(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Error, Message = "Rate limits could not be checked in Redis; the request was refused.")]
    public static partial void LimitsUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "A request's reservation could not be settled in Redis; it stays counted as reserved.")]
    public static partial void SettleFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Warning, Message = "A request's concurrency slot could not be renewed in Redis; it lapses if no later renewal succeeds.")]
    public static partial void LeaseNotRenewed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "The Router's worst-case prices could not be read; budgets use the last known ones.")]
    public static partial void PricesUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Error, Message = "Model group '{Model}' has no known prices and a budget applies; the request was refused.")]
    public static partial void NoPricesForBudget(ILogger logger, string model);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Error, Message = "Usage records could not be written to Redis ({BatchCount} in the batch, {SpoolDepth} spooled); retrying until it answers.")]
    public static partial void UsageWriteFailed(ILogger logger, int batchCount, int spoolDepth, Exception exception);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Information, Message = "Usage records reach Redis again after {Failures} failed attempts.")]
    public static partial void UsageWritesResumed(ILogger logger, int failures);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Critical, Message = "Stopping with Redis unreachable: {SpoolDepth} usage records could not be written.")]
    public static partial void UsageSpoolAbandoned(ILogger logger, int spoolDepth);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Critical, Message = "Stopping after the Redis connection was closed: {SpoolDepth} usage records could not be written.")]
    public static partial void UsageConnectionClosed(ILogger logger, int spoolDepth);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Warning, Message = "The response cache could not be read in Redis; the request goes upstream.")]
    public static partial void CacheUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Warning, Message = "An answer could not be stored in the response cache (or its fill lease freed) in Redis.")]
    public static partial void CacheStoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2040, Level = LogLevel.Information, Message = "This replica now evaluates the alert rules.")]
    public static partial void AlertEvaluatorLeading(ILogger logger);

    [LoggerMessage(EventId = 2041, Level = LogLevel.Warning, Message = "Alert rules could not be evaluated (or notifications read) in Redis; no alert changed this round.")]
    public static partial void AlertEvaluationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2042, Level = LogLevel.Warning, Message = "Alert fired: rule {Rule}, {Fingerprint}.")]
    public static partial void AlertFired(ILogger logger, string rule, string fingerprint);

    [LoggerMessage(EventId = 2043, Level = LogLevel.Information, Message = "Alert resolved: rule {Rule}, {Fingerprint}.")]
    public static partial void AlertResolved(ILogger logger, string rule, string fingerprint);

    [LoggerMessage(EventId = 2044, Level = LogLevel.Error, Message = "An alert notification could not be delivered to webhook {Webhook} in {Attempts} tries: {Error}.")]
    public static partial void AlertDeliveryFailed(ILogger logger, string webhook, int attempts, string error);

    [LoggerMessage(EventId = 2045, Level = LogLevel.Warning,
        Message = "Moved {Keys} alerting keys (rules, alerts, history, notifications) to the hash-tagged key names of this version.")]
    public static partial void AlertKeysMoved(ILogger logger, int keys);

    [LoggerMessage(EventId = 2050, Level = LogLevel.Warning, Message = "Agent {Agent} run {RunId} failed: {Error}")]
    public static partial void AgentRunFailed(ILogger logger, string agent, string runId, string? error);

    [LoggerMessage(EventId = 2051, Level = LogLevel.Warning, Message = "Agent run {RunId} could not be saved in Redis; it cannot be read back.")]
    public static partial void AgentRunNotSaved(ILogger logger, string runId, Exception exception);

    [LoggerMessage(EventId = 2052, Level = LogLevel.Warning, Message = "Thread {ThreadId} of agent run {RunId} could not be saved in Redis; it cannot be continued.")]
    public static partial void AgentThreadNotSaved(ILogger logger, string threadId, string runId, Exception exception);

    [LoggerMessage(EventId = 2053, Level = LogLevel.Warning,
        Message = "Moved {Keys} agent definition keys to the hash-tagged key names of this version.")]
    public static partial void AgentKeysMoved(ILogger logger, int keys);

    [LoggerMessage(EventId = 2060, Level = LogLevel.Warning,
        Message = "Moved {Tenants} tenants, {Keys} keys (and the audit log) and {SpendCounters} spend counters to the hash-tagged key names of this version.")]
    public static partial void TenancyKeysMoved(ILogger logger, int tenants, int keys, int spendCounters);

    [LoggerMessage(EventId = 2024, Level = LogLevel.Warning,
        Message = "Moved {Keys} usage ledger keys (records, roll-ups, timeline) to the hash-tagged key names of this version.")]
    public static partial void UsageKeysMoved(ILogger logger, int keys);

    [LoggerMessage(EventId = 2061, Level = LogLevel.Warning, Message = "A response was answered but could not be stored; it will not be found by id or previous_response_id.")]
    public static partial void ResponseNotStored(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2062, Level = LogLevel.Warning, Message = "The stored responses could not be read: a continued conversation is refused (503), a new one is answered without checking the stored-bytes limit.")]
    public static partial void ResponseStoreUnavailable(ILogger logger, Exception exception);
}
