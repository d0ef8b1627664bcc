using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting;

public static class ConfigurationResourceBuilderExtensions
{
    /// <summary>
    /// Passes a section of the AppHost's own configuration (user secrets, environment, command line) to
    /// a service as environment variables under the same keys, e.g. <c>Cache:Enabled</c> as <c>Cache__Enabled</c>.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithConfigurationSection(
        this IResourceBuilder<ProjectResource> service, IConfiguration configuration, string section)
    {
        foreach (var (key, value) in configuration.GetSection(section).AsEnumerable(makePathsRelative: false))
        {
            if (value is not null)
            {
                service.WithEnvironment(key.Replace(":", "__", StringComparison.Ordinal), value);
            }
        }
        return service;
    }
}
