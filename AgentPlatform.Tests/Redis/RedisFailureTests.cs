using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Tests.Redis;

/// <summary>
/// Every Redis catch in the Api and the Router turns what <see cref="RedisFailure.Is"/> accepts into a 503
/// or a retry: a Redis outage must never answer 500, and a bug must never pass for an outage.
/// </summary>
public sealed class RedisFailureTests
{
    [Fact]
    public async Task A_call_to_a_redis_that_is_not_there_is_a_redis_failure()
    {
        using var redis = await ConnectionMultiplexer.ConnectAsync("127.0.0.1:1,abortConnect=false,connectTimeout=200,connectRetry=0");

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => redis.GetDatabase().PingAsync());

        Assert.True(RedisFailure.Is(exception), exception.ToString());
    }

    [Fact]
    public void Timeouts_and_the_bare_errors_of_a_connection_being_torn_down_are_redis_failures()
    {
        Assert.True(RedisFailure.Is(new RedisTimeoutException("Timeout awaiting response", CommandStatus.Sent)));
        Assert.True(RedisFailure.Is(new TimeoutException()));
        // What StackExchange.Redis threw mid-restart in RedisRestartTests, with the Source the runtime gives it.
        foreach (var source in new[] { "StackExchange.Redis", "System.IO.Pipelines", "Pipelines.Sockets.Unofficial" })
        {
            Assert.True(RedisFailure.Is(new InvalidOperationException("Writing is not allowed after writer was completed.") { Source = source }));
        }
        // What script calls threw when their node was killed under them (ClusterFailoverTests): calls in
        // flight on the broken connection are reset, or cancelled without a token.
        Assert.True(RedisFailure.Is(new Pipelines.Sockets.Unofficial.ConnectionResetException("Connection reset by peer")));
        Assert.True(RedisFailure.Is(new Pipelines.Sockets.Unofficial.ConnectionAbortedException()));
        var cancelled = new TaskCompletionSource<int>();
        cancelled.SetCanceled();
        Assert.True(RedisFailure.Is(Assert.ThrowsAny<OperationCanceledException>(() => cancelled.Task.GetAwaiter().GetResult())));
    }

    [Fact]
    public void The_platforms_own_bugs_are_not_redis_failures()
    {
        var ours = Assert.Throws<InvalidOperationException>(() => Enumerable.Empty<int>().First());
        Assert.False(RedisFailure.Is(ours));
        Assert.False(RedisFailure.Is(new InvalidOperationException("a bug")));
        Assert.False(RedisFailure.Is(new ArgumentException("a bug")));
        Assert.False(RedisFailure.Is(new NullReferenceException()));
    }

    [Fact]
    public async Task A_cancellation_someone_asked_for_is_not_a_redis_failure()
    {
        // A client that went away, or the host stopping: the token's owner handles it, not a Redis catch.
        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();

        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(1000, stopping.Token));

        Assert.False(RedisFailure.Is(exception));
        Assert.False(RedisFailure.Is(new OperationCanceledException(stopping.Token)));
    }
}
