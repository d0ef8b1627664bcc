using AgentPlatform.AppHost.Redis;
using Microsoft.Extensions.Configuration;

namespace AgentPlatform.Tests.AppHost;

public sealed class RedisChoiceTests
{
    [Theory]
    [InlineData("localhost:6379", true, true, RedisKind.ConnectionString)]
    [InlineData(null, true, true, RedisKind.Container)]
    [InlineData(null, false, true, RedisKind.RedisServer)]
    [InlineData(null, false, false, RedisKind.Garnet)]
    public void Picks_connection_string_then_container_then_redis_server_then_garnet(
        string? connectionString, bool containerRuntime, bool redisServer, RedisKind expected)
    {
        var configuration = Configuration(("ConnectionStrings:cache", connectionString));

        var kind = RedisChoice.Pick(configuration, () => containerRuntime, () => redisServer ? "/usr/bin/redis-server" : null);

        Assert.Equal(expected, kind);
    }

    [Fact]
    public void The_container_runtime_is_not_asked_when_a_connection_string_is_given()
    {
        var asked = false;

        RedisChoice.Pick(Configuration(("ConnectionStrings:cache", "redis:6379")), () => asked = true, () => null);

        Assert.False(asked);
    }

    [Theory]
    [InlineData("garnet", RedisKind.Garnet)]
    [InlineData("redis-server", RedisKind.RedisServer)]
    [InlineData("Container", RedisKind.Container)]
    public void A_forced_choice_wins_over_detection(string forced, RedisKind expected) =>
        Assert.Equal(expected, RedisChoice.Pick(Configuration((RedisChoice.ForceKey, forced)), () => true, () => "/usr/bin/redis-server"));

    [Fact]
    public void A_forced_choice_wins_over_a_connection_string() =>
        Assert.Equal(RedisKind.Garnet, RedisChoice.Pick(
            Configuration(("ConnectionStrings:cache", "redis:6379"), (RedisChoice.ForceKey, "garnet")), () => true, () => null));

    [Fact]
    public void An_unknown_forced_choice_says_what_is_allowed()
    {
        var error = Assert.Throws<InvalidOperationException>(() => RedisChoice.Pick(Configuration((RedisChoice.ForceKey, "memcached")), () => false, () => null));

        Assert.Contains("auto, container, redis-server or garnet", error.Message);
    }

    [Fact]
    public void No_container_engine_answers_on_this_machine_unless_one_runs()
    {
        // docker here is a client without an engine: finding the binary must not count as a runtime.
        var engine = RedisChoice.ContainerRuntimeAnswers();

        Assert.Equal(File.Exists("/var/run/docker.sock") || RedisChoice.FindOnPath("podman") is not null, engine);
    }

    private static IConfiguration Configuration(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
