namespace AgentPlatform.Api;

/// <summary>Every message the Api logs, with its event id: 200x the Router, 201x limits.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Error, Message = "The router is unreachable ({Error}).")]
    public static partial void RouterUnreachable(ILogger logger, HttpRequestError error, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "The router did not answer within {TimeoutSeconds} s.")]
    public static partial void RouterTimedOut(ILogger logger, double timeoutSeconds);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "The router's answer broke after it started; the client's response was aborted.")]
    public static partial void RouterStreamBroken(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Error, Message = "Rate limits could not be checked in Redis; the request was refused.")]
    public static partial void LimitsUnavailable(ILogger logger, Exception exception);
}
