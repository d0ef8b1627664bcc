using StackExchange.Redis;

namespace AgentPlatform.Redis;

/// <summary>What kind of Redis a connection reaches.</summary>
public static class RedisTopology
{
    /// <summary>
    /// Whether the connection reaches one node (or a primary with replicas), not a Redis Cluster: there a
    /// script may take keys of any hash slot together, and keys named before the hash tags may exist.
    /// </summary>
    public static bool IsOneNode(IConnectionMultiplexer redis) =>
        redis.GetServers().All(server => server.ServerType != ServerType.Cluster);
}
