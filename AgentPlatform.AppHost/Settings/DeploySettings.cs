using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

/// <summary>
/// The choices of a published app model (<c>--publisher manifest</c>, what azd deploys), made apart from
/// the local run's: nothing the publishing machine has (Docker, redis-server) changes them.
/// </summary>
public static class DeploySettings
{
    /// <summary><c>container</c> (default): a Redis container with a password and a data volume; <c>connection-string</c>: an existing (managed) Redis, its connection string a secret parameter.</summary>
    public const string RedisKey = "AgentPlatform:Deploy:Redis";

    /// <summary><c>true</c>: deploy the two simulators as the model pool (a demo environment) when no pool is configured.</summary>
    public const string SimulatorsKey = "AgentPlatform:Deploy:Simulators";

    public static bool PublishSimulators(IConfiguration configuration) =>
        configuration[SimulatorsKey] is { } value && (bool.TryParse(value, out var publish)
            ? publish
            : throw new InvalidOperationException($"{SimulatorsKey} is '{value}'; use true or false."));

    public static bool UseExistingRedis(IConfiguration configuration) => configuration[RedisKey]?.ToLowerInvariant() switch
    {
        null or "" or "container" => false,
        "connection-string" => true,
        var other => throw new InvalidOperationException($"{RedisKey} is '{other}'; use container or connection-string."),
    };
}
