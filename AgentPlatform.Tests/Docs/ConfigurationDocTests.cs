using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;
using AgentPlatform.Api;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Api.Caching;
using AgentPlatform.Router.Access;
using AgentPlatform.Router.Configuration;
using AgentPlatform.ServiceDefaults.Lifecycle;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Web.Platform;

namespace AgentPlatform.Tests.Docs;

/// <summary>
/// Every setting the code reads is in docs/configuration.md: the options classes' bindable properties,
/// walked as the configuration binder walks them, and the keys read without one.
/// </summary>
public sealed partial class ConfigurationDocTests
{
    private static readonly (Type Options, string Section)[] Sections =
    [
        (typeof(ApiOptions), ApiOptions.SectionName),
        (typeof(CacheOptions), CacheOptions.SectionName),
        (typeof(AlertOptions), AlertOptions.SectionName),
        (typeof(AgentOptions), AgentOptions.SectionName),
        (typeof(RouterOptions), RouterOptions.SectionName),
        (typeof(InternalAccessOptions), InternalAccessOptions.SectionName),
        (typeof(DrainOptions), DrainOptions.SectionName),
        (typeof(SimulatorOptions), SimulatorOptions.SectionName),
        (typeof(ConsoleOptions), ConsoleOptions.SectionName),
    ];

    private static readonly string[] ReadWithoutOptions =
    [
        Microsoft.Extensions.Hosting.Extensions.MetricsKeyName,
        Aspire.Hosting.DeploySettings.RedisKey,
        Aspire.Hosting.DeploySettings.SimulatorsKey,
    ];

    [Fact]
    public void Every_key_the_code_reads_is_documented()
    {
        var documented = DocumentedKeys(File.ReadAllText(Path.Combine(Repository.Root, "docs", "configuration.md")));
        var read = Sections.SelectMany(s => KeysOf(s.Options, s.Section)).Concat(ReadWithoutOptions).Select(Normalize).ToHashSet(StringComparer.OrdinalIgnoreCase);

        var missing = read.Where(key => !documented.Contains(key)).Order(StringComparer.Ordinal).ToList();

        Assert.True(missing.Count == 0, $"Read by the code but not in docs/configuration.md: {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_walk_finds_nested_listed_and_keyed_settings_and_the_reading_follows_continuations()
    {
        var keys = KeysOf(typeof(RouterOptions), "Router").Select(Normalize).ToList();

        Assert.Contains("Router:Retry:MaxAttempts", keys);
        Assert.Contains("Router:ModelGroups:*:Deployments:*:BaseUrl", keys);
        Assert.Contains("Router:ModelGroups:*:Fallbacks", keys);
        var documented = DocumentedKeys("| `Router:ModelGroups:<group>:Deployments:<i>:Name` | x |\n| `...:Provider` | y |\n| `Alerts:Rules:N:Name`, `:ThresholdsPercent:M` |");
        Assert.Contains("Router:ModelGroups:*:Deployments:*:Provider", documented);
        Assert.Contains("Alerts:Rules:*:ThresholdsPercent", documented);
    }

    /// <summary>The keys a type binds, as the configuration binder binds them: nested objects, lists and dictionaries by <c>*</c>.</summary>
    private static IEnumerable<string> KeysOf(Type type, string prefix)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true))
        {
            var key = $"{prefix}:{property.Name}";
            var element = ElementOf(property.PropertyType);
            if (IsValue(property.PropertyType) || element is not null && IsValue(element))
            {
                yield return key;
            }
            else
            {
                foreach (var nested in KeysOf(element ?? property.PropertyType, element is null ? key : key + ":*"))
                {
                    yield return nested;
                }
            }
        }
    }

    /// <summary>What a list or dictionary holds (a dictionary's values); null for anything else.</summary>
    private static Type? ElementOf(Type type) =>
        type == typeof(string) || !typeof(IEnumerable).IsAssignableFrom(type) ? null
        : type.IsArray ? type.GetElementType()
        : type.GetGenericArguments() is { Length: > 0 } arguments ? arguments[^1]
        : null;

    private static bool IsValue(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri);
    }

    /// <summary>
    /// The keys in the document's backticks; a key written as a continuation of the one before
    /// (<c>`...:Provider`</c>, <c>`:TtlSeconds`</c>) is that key's parent and the rest.
    /// </summary>
    private static HashSet<string> DocumentedKeys(string markdown)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var lastFull = "";
        foreach (Match code in CodeSpan().Matches(markdown))
        {
            var text = code.Groups[1].Value;
            if (text.StartsWith(':') || text.StartsWith("...:", StringComparison.Ordinal))
            {
                var parent = lastFull.Contains(':') ? lastFull[..lastFull.LastIndexOf(':')] : lastFull;
                keys.Add(Normalize($"{parent}:{text.TrimStart('.').TrimStart(':')}"));
            }
            else if (text.Contains(':') && !text.Contains(' ') && !text.Contains('/'))
            {
                lastFull = Normalize(text);
                keys.Add(lastFull);
            }
        }
        return keys;
    }

    /// <summary>Placeholders (<c>&lt;group&gt;</c>, <c>N</c>, <c>0</c>) become <c>*</c>; a trailing one is dropped (a list's items are the list's key).</summary>
    private static string Normalize(string key)
    {
        var segments = key.Split(':').Select(s => Placeholder().IsMatch(s) ? "*" : s).ToList();
        while (segments.Count > 1 && segments[^1] == "*")
        {
            segments.RemoveAt(segments.Count - 1);
        }
        return string.Join(':', segments);
    }

    [GeneratedRegex("`([^`\n]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(<[^>]+>|[A-Z]|[a-z]|\d+|\*)$")]
    private static partial Regex Placeholder();
}
