namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// The Redis a fixture's services share: one node (<see cref="TestRedis"/>), or a Redis Cluster
/// (<see cref="TestRedisCluster"/>) for the suites that must hold on both — the same tests, given either.
/// </summary>
public sealed class RedisUnderTest : IAsyncDisposable
{
    private readonly TestRedis? _node;
    private readonly IAsyncDisposable _running;

    private RedisUnderTest(TestRedis? node, IAsyncDisposable running, string connectionString) =>
        (_node, _running, ConnectionString) = (node, running, connectionString);

    /// <summary>What the services are given as <c>ConnectionStrings:cache</c>: the node, or the cluster's seeds.</summary>
    public string ConnectionString { get; }

    public bool IsCluster => _node is null;

    /// <summary>The one node (for the tests that restart it); not there on a cluster.</summary>
    public TestRedis Node => _node ?? throw new InvalidOperationException("This fixture runs on a Redis Cluster.");

    public static async Task<RedisUnderTest> StartAsync(bool cluster)
    {
        if (cluster)
        {
            var running = await TestRedisCluster.StartAsync();
            return new RedisUnderTest(null, running, running.ConnectionString);
        }
        var node = await TestRedis.StartAsync();
        return new RedisUnderTest(node, node, node.ConnectionString);
    }

    public ValueTask DisposeAsync() => _running.DisposeAsync();
}
