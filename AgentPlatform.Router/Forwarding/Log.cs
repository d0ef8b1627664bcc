using System.Net;

namespace AgentPlatform.Router.Forwarding;

internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning,
        Message = "Deployment {Deployment} of model group {ModelGroup} answered {StatusCode}; trying the next deployment.")]
    public static partial void DeploymentRefused(ILogger logger, string deployment, string modelGroup, HttpStatusCode statusCode);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning,
        Message = "Deployment {Deployment} of model group {ModelGroup} failed: {Reason}; trying the next deployment.")]
    public static partial void DeploymentFailed(ILogger logger, string deployment, string modelGroup, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Error,
        Message = "Every deployment of model group {ModelGroup} failed; the last: {Reason}.")]
    public static partial void AllDeploymentsFailed(ILogger logger, string modelGroup, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning,
        Message = "The stream from deployment {Deployment} of model group {ModelGroup} broke after it started; the client's response was aborted.")]
    public static partial void StreamBroken(ILogger logger, string deployment, string modelGroup, Exception exception);
}
