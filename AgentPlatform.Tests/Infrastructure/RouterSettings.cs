using System.Collections;
using System.Globalization;
using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A Router's configuration for a test: any setting by its key, and model groups written with the
/// Router's own options types, turned into the flat keys it reads
/// (<c>Router:ModelGroups:{group}:Deployments:{i}:{Option}</c>) — a renamed option fails to compile
/// here instead of being silently ignored by the Router under test. Of a deployment, only what
/// differs from the option's default is written.
/// </summary>
public sealed class RouterSettings : IEnumerable<KeyValuePair<string, string?>>
{
    private static readonly ModelGroupOptions DefaultGroup = new();
    private static readonly DeploymentOptions DefaultDeployment = new();

    private readonly Dictionary<string, string?> _settings = new(StringComparer.Ordinal);

    /// <summary>Adds a setting by its key, e.g. <c>ConnectionStrings:cache</c>.</summary>
    public RouterSettings Add(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    /// <summary>Adds a model group; its deployments in order, each with at least a name, base URL and model.</summary>
    public RouterSettings Add(string group, ModelGroupOptions options)
    {
        var prefix = $"Router:ModelGroups:{group}:";
        if (options.Strategy != DefaultGroup.Strategy)
        {
            _settings[prefix + nameof(ModelGroupOptions.Strategy)] = options.Strategy;
        }
        AddList(prefix + nameof(ModelGroupOptions.Fallbacks), options.Fallbacks);
        AddList(prefix + nameof(ModelGroupOptions.ContextWindowFallbacks), options.ContextWindowFallbacks);
        for (var i = 0; i < options.Deployments.Count; i++)
        {
            foreach (var property in typeof(DeploymentOptions).GetProperties())
            {
                var value = property.GetValue(options.Deployments[i]);
                if (!Equals(value, property.GetValue(DefaultDeployment)) || property.Name is nameof(DeploymentOptions.Name) or nameof(DeploymentOptions.BaseUrl) or nameof(DeploymentOptions.Model))
                {
                    _settings[$"{prefix}Deployments:{i}:{property.Name}"] = Convert.ToString(value, CultureInfo.InvariantCulture);
                }
            }
        }
        return this;
    }

    /// <summary>A Router on <paramref name="redis"/> whose <c>default</c> group is one deployment, <c>sim</c>, of <paramref name="simulator"/>.</summary>
    public static RouterSettings OneSimulator(string redis, Uri simulator, (double Input, double Output)? pricesPerMillion = null) => new()
    {
        { "ConnectionStrings:cache", redis },
        { "default", new ModelGroupOptions { Deployments = [pricesPerMillion is { } prices ? Priced(Deployment("sim", simulator), prices.Input, prices.Output) : Deployment("sim", simulator)] } },
    };

    /// <summary>A deployment of a simulator (or any OpenAI-compatible server) at <paramref name="server"/>, serving <c>sim-model</c>.</summary>
    public static DeploymentOptions Deployment(string name, Uri server, string model = "sim-model", int priority = 0, double weight = 1, int? contextWindow = null) =>
        new() { Name = name, BaseUrl = $"{server}v1", Model = model, Priority = priority, Weight = weight, ContextWindow = contextWindow };

    /// <summary>A deployment that speaks Anthropic's Messages API (as the simulator does at <c>/v1/messages</c>).</summary>
    public static DeploymentOptions Anthropic(string name, Uri server, string model = "claude-sim", int priority = 0) =>
        new() { Name = name, Provider = ProviderNames.Anthropic, BaseUrl = server.ToString().TrimEnd('/'), Model = model, Priority = priority };

    /// <summary>A deployment that speaks Azure OpenAI's URL shape and <c>api-key</c> header (as the simulator does).</summary>
    public static DeploymentOptions Azure(string name, Uri server, string model = "sim-deployment") =>
        new() { Name = name, Provider = ProviderNames.AzureOpenAI, BaseUrl = server.ToString().TrimEnd('/'), Model = model };

    /// <summary>The deployment as one with OpenAI's Responses API, which Responses requests are passed through to.</summary>
    public static DeploymentOptions WithResponsesApi(DeploymentOptions deployment)
    {
        deployment.ResponsesApi = true;
        return deployment;
    }

    /// <summary>The deployment with its prices per million input and output tokens.</summary>
    public static DeploymentOptions Priced(DeploymentOptions deployment, double inputPerMillion, double outputPerMillion)
    {
        deployment.InputPricePerMillion = inputPerMillion;
        deployment.OutputPricePerMillion = outputPerMillion;
        return deployment;
    }

    /// <summary>The deployment as one answering embeddings.</summary>
    public static DeploymentOptions Embeddings(DeploymentOptions deployment)
    {
        deployment.Kind = DeploymentKinds.Embeddings;
        return deployment;
    }

    /// <summary>A deployment at a loopback port nobody listens on: every call to it fails to connect.</summary>
    public static DeploymentOptions Unreachable(string name) =>
        new() { Name = name, BaseUrl = $"http://127.0.0.1:{FreePort.Next()}/v1", Model = "none" };

    private void AddList(string prefix, List<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            _settings[$"{prefix}:{i}"] = values[i];
        }
    }

    public IEnumerator<KeyValuePair<string, string?>> GetEnumerator() => _settings.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
