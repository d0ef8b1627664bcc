using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

/// <summary>
/// Gives each service the settings it reads, from the AppHost's own configuration (user secrets,
/// environment, command line): locally as environment variables of its process, published as the
/// environment of its container. Credentials among them become secret parameters.
/// </summary>
public static class ServiceSettings
{
    /// <summary>
    /// <c>ServiceSettings:{resource}:{key}</c> passes any key to one service only, e.g.
    /// <c>ServiceSettings:router:Logging:LogLevel:Default</c> (the AppHost's own <c>Logging</c> is its own).
    /// </summary>
    public const string PerServiceSection = "ServiceSettings";

    /// <summary>What the Api reads beyond what the AppHost wires itself (docs/configuration.md, Api).</summary>
    public static readonly string[] Api =
    [
        "AgentPlatform:MaxRequestBodyBytes", "AgentPlatform:RouterTimeoutSeconds", "AgentPlatform:DefaultMaxOutputTokens", "AgentPlatform:MaxChoices",
        "AgentPlatform:UsageRetentionDays", "AgentPlatform:UsageDailyRollupRetentionDays", "AgentPlatform:UsageSpoolCapacity", "AgentPlatform:ResponsesTtlDays",
        "Cache", "Alerts", "Agents", "Aspire:StackExchange", "Shutdown",
    ];

    /// <summary>What the Router reads; its model pool is passed by <c>WithModelPool</c>.</summary>
    public static readonly string[] Router = ["Router", "Aspire:StackExchange", "Shutdown"];

    public static readonly string[] Web = ["AgentPlatform:AdminCredential", "Shutdown"];

    public static readonly string[] Simulator = ["Simulator", "Shutdown"];

    /// <summary>Sections whose entries each have a secret (webhook URLs carry their credential), asked for when published even if not given.</summary>
    private static readonly (string Section, string Key)[] SecretSlots = [("Alerts:Webhooks", "Url")];

    /// <summary>Whether a setting is a credential: passed as a secret parameter, never as a plain value.</summary>
    public static bool IsSecret(string key) =>
        key.EndsWith(":ApiKey", StringComparison.OrdinalIgnoreCase)
        || key.EndsWith(":AdminCredential", StringComparison.OrdinalIgnoreCase)
        || SecretSlots.Any(slot => key.StartsWith(slot.Section + ":", StringComparison.OrdinalIgnoreCase) && key.EndsWith(":" + slot.Key, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Passes every key under <paramref name="paths"/> (sections or single keys) but those under
    /// <paramref name="except"/>, and the service's own <c>ServiceSettings:{name}:*</c>.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSettings(this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder,
        string[] paths, params string[] except)
    {
        var configuration = builder.Configuration;
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var path in paths)
        {
            foreach (var (key, value) in configuration.GetSection(path).AsEnumerable(makePathsRelative: false))
            {
                if (value is not null && !except.Any(e => key.Equals(e, StringComparison.OrdinalIgnoreCase) || key.StartsWith(e + ":", StringComparison.OrdinalIgnoreCase)))
                {
                    settings[key] = value;
                }
            }
        }
        foreach (var (section, slot) in SecretSlots.Where(s => paths.Any(p => s.Section.StartsWith(p, StringComparison.OrdinalIgnoreCase))))
        {
            foreach (var entry in configuration.GetSection(section).GetChildren())
            {
                settings.TryAdd($"{entry.Path}:{slot}", null);
            }
        }
        foreach (var (key, value) in settings)
        {
            service.WithSetting(builder, key, value, SecretParameters.NameFrom(key));
        }

        var own = configuration.GetSection($"{PerServiceSection}:{service.Resource.Name}");
        foreach (var (key, value) in own.AsEnumerable(makePathsRelative: true))
        {
            if (value is not null)
            {
                service.WithSetting(builder, key, value, SecretParameters.NameFrom($"{service.Resource.Name}-{key}"));
            }
        }
        return service;
    }

    /// <summary>The environment variable a configuration key is read from: <c>Cache:Enabled</c> as <c>Cache__Enabled</c>.</summary>
    public static string EnvironmentVariable(string key) => key.Replace(":", "__", StringComparison.Ordinal);

    /// <summary>One setting: a credential as the secret parameter <paramref name="parameterName"/>, anything else as it is.</summary>
    public static IResourceBuilder<ProjectResource> WithSetting(this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder,
        string key, string? value, string parameterName)
    {
        var variable = EnvironmentVariable(key);
        if (IsSecret(key))
        {
            if (builder.AddSecretParameter(parameterName, value) is { } parameter)
            {
                service.WithEnvironment(variable, parameter);
            }
        }
        else if (value is not null)
        {
            service.WithEnvironment(variable, value);
        }
        return service;
    }
}
