using Microsoft.Extensions.Configuration;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A configuration source a test edits while the service runs, then reloads — as a service sees an
/// edited appsettings.json, without waiting on a file watcher.
/// </summary>
public sealed class ReloadableConfiguration : IConfigurationSource
{
    private readonly Provider _provider = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    /// <summary>Sets (or, with null, removes) the keys, then raises the reload.</summary>
    public void Change(IReadOnlyDictionary<string, string?> settings)
    {
        foreach (var (key, value) in settings)
        {
            _provider.Put(key, value);
        }
        _provider.Reload();
    }

    private sealed class Provider : ConfigurationProvider
    {
        public void Put(string key, string? value)
        {
            if (value is null)
            {
                Data.Remove(key);
            }
            else
            {
                Data[key] = value;
            }
        }

        public void Reload() => OnReload();
    }
}
