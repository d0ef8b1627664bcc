using StackExchange.Redis;

namespace AgentPlatform.Redis;

/// <summary>What a failed Redis call can throw, for the catches that turn it into a 503 or a retry instead of a 500.</summary>
public static class RedisFailure
{
    /// <summary>
    /// A Redis error or timeout, or the bare <see cref="InvalidOperationException"/> StackExchange.Redis
    /// throws while a connection is being torn down ("Writing is not allowed after writer was
    /// completed", seen during a Redis restart): the call failed, the process is fine.
    /// </summary>
    public static bool Is(Exception exception) =>
        exception is RedisException or TimeoutException
        || exception is InvalidOperationException { Source: "StackExchange.Redis" or "System.IO.Pipelines" or "Pipelines.Sockets.Unofficial" };
}
