using System.Net;

namespace AgentPlatform.Router;

/// <summary>Every message the Router logs, with its event id: 100x forwarding, 101x breakers, 102x the pool, 103x statistics, 104x access.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning,
        Message = "Deployment {Deployment} of model group {ModelGroup} answered {StatusCode}.")]
    public static partial void DeploymentRefused(ILogger logger, string deployment, string modelGroup, HttpStatusCode statusCode);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error,
        Message = "Deployment {Deployment} of model group {ModelGroup} refused the platform's credential ({StatusCode}, provider error type '{ErrorType}'): check its API key. Its answer is not passed on.")]
    public static partial void DeploymentCredentialRefused(ILogger logger, string deployment, string modelGroup, int statusCode, string? errorType);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning,
        Message = "Deployment {Deployment} of model group {ModelGroup} failed: {Reason}.")]
    public static partial void DeploymentFailed(ILogger logger, string deployment, string modelGroup, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error,
        Message = "No deployment of model group {ModelGroup} could answer after {Attempts} attempts; the last: {Reason}.")]
    public static partial void AllDeploymentsFailed(ILogger logger, string modelGroup, int attempts, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning,
        Message = "The answer from deployment {Deployment} of model group {ModelGroup} broke off after it started: {Reason}.")]
    public static partial void StreamBroken(ILogger logger, string deployment, string modelGroup, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information,
        Message = "Retrying model group {ModelGroup} in {DelayMs} ms (attempt {Attempt}).")]
    public static partial void Retrying(ILogger logger, string modelGroup, double delayMs, int attempt);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning,
        Message = "Circuit of deployment {Deployment} of model group {ModelGroup} opened until {OpenUntil:O}: {Reason}.")]
    public static partial void BreakerOpened(ILogger logger, string deployment, string modelGroup, DateTimeOffset openUntil, string reason);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information,
        Message = "Circuit of deployment {Deployment} of model group {ModelGroup} half-open: one probe request goes through.")]
    public static partial void BreakerHalfOpen(ILogger logger, string deployment, string modelGroup);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information,
        Message = "Circuit of deployment {Deployment} of model group {ModelGroup} closed by {DecidedBy}.")]
    public static partial void BreakerClosed(ILogger logger, string deployment, string modelGroup, string decidedBy);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning,
        Message = "Could not share the circuit state of deployment {Deployment} of model group {ModelGroup} through Redis.")]
    public static partial void BreakerNotShared(ILogger logger, string deployment, string modelGroup, Exception exception);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning,
        Message = "Could not read the circuit states other Router replicas stored in Redis.")]
    public static partial void BreakerStatesNotLoaded(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information,
        Message = "Model pool reloaded from configuration: {Groups} model groups, {Deployments} deployments.")]
    public static partial void PoolReloaded(ILogger logger, int groups, int deployments);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Error,
        Message = "The edited Router configuration is invalid, so the pool in use stays: {Failures}")]
    public static partial void PoolReloadRefused(ILogger logger, string failures);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Warning,
        Message = "Deployment {Deployment} of model group {ModelGroup} drained by hand: {Reason}.")]
    public static partial void DeploymentDrained(ILogger logger, string deployment, string modelGroup, string reason);

    [LoggerMessage(EventId = 1023, Level = LogLevel.Information,
        Message = "Deployment {Deployment} of model group {ModelGroup} back in rotation.")]
    public static partial void DeploymentUndrained(ILogger logger, string deployment, string modelGroup);

    [LoggerMessage(EventId = 1024, Level = LogLevel.Warning,
        Message = "Could not read the drained deployments from Redis; the ones known before stay as they were.")]
    public static partial void DrainsNotLoaded(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning,
        Message = "Could not check the Rpm/Tpm capacity of deployment {Deployment} of model group {ModelGroup} in Redis; sending anyway.")]
    public static partial void CapacityUnchecked(ILogger logger, string deployment, string modelGroup, Exception exception);

    [LoggerMessage(EventId = 1040, Level = LogLevel.Warning,
        Message = "Refused {Method} {Path} from {RemoteAddress}: no internal key (an Authorization header was sent: {HadAuthorization}).")]
    public static partial void InternalKeyRefused(ILogger logger, string method, string path, string remoteAddress, bool hadAuthorization);

    [LoggerMessage(EventId = 1030, Level = LogLevel.Warning, Message = "Deployment statistics could not be written to Redis; this flush is lost (alert rules see fewer attempts).")]
    public static partial void StatsFlushFailed(ILogger logger, Exception exception);
}
