using Pipelines.Sockets.Unofficial;
using StackExchange.Redis;

namespace AgentPlatform.Redis;

/// <summary>What a failed Redis call can throw, for the catches that turn it into a 503 or a retry instead of a 500.</summary>
public static class RedisFailure
{
    /// <summary>
    /// A Redis error or timeout, or what StackExchange.Redis lets through unwrapped while a connection is
    /// torn down: the bare <see cref="InvalidOperationException"/> ("Writing is not allowed after writer
    /// was completed", seen during a Redis restart), its socket layer's reset, and a cancellation that no
    /// token asked for (the client cancels the calls in flight on a connection that broke — a node killed
    /// mid-call in a cluster failover — and they end as <see cref="TaskCanceledException"/> or the socket
    /// layer's <see cref="ConnectionAbortedException"/>). The call failed, the process is fine.
    /// </summary>
    /// <remarks>
    /// Those cancellations are <see cref="OperationCanceledException"/>s: a catch that lets cancellations
    /// through must still take them (<see cref="IsAnyButCancellation"/>), or one escapes a background
    /// service or an event handler and stops the process. A cancellation of a token (a client gone, the
    /// host stopping) carries that token and is not a failure.
    /// </remarks>
    public static bool Is(Exception exception) =>
        exception is RedisException or TimeoutException or ConnectionResetException
        || exception is OperationCanceledException { CancellationToken.CanBeCanceled: false }
        || exception is InvalidOperationException { Source: "StackExchange.Redis" or "System.IO.Pipelines" or "Pipelines.Sockets.Unofficial" };

    /// <summary>
    /// Any exception but a cancellation a token asked for: what a background service's or an event
    /// handler's catch takes, so that no failure — Redis's or another — escapes and stops the process,
    /// while the host's stop still ends it.
    /// </summary>
    public static bool IsAnyButCancellation(Exception exception) =>
        exception is not OperationCanceledException || Is(exception);
}
