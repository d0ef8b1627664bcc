using System.Net.Http.Headers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AgentPlatform.Router.Pool;

/// <summary>A deployment ready to call: everything per-request work needs is computed once here.</summary>
public sealed class Deployment
{
    public Deployment(DeploymentOptions options)
    {
        Name = options.Name;
        Provider = options.Provider;
        Model = options.Model;
        Weight = options.Weight;
        ChatCompletionsUri = new Uri(options.BaseUrl.TrimEnd('/') + "/chat/completions");
        Authorization = string.IsNullOrEmpty(options.ApiKey) ? null : new AuthenticationHeaderValue("Bearer", options.ApiKey);
        // Relaxed escaping: the token goes into a JSON body for an API, never into HTML, so a quote is
        // written \" as a person would write it rather than \u0022.
        ModelJsonToken = JsonSerializer.SerializeToUtf8Bytes(options.Model, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public string Name { get; }

    public string Provider { get; }

    public string Model { get; }

    public double Weight { get; }

    public Uri ChatCompletionsUri { get; }

    public AuthenticationHeaderValue? Authorization { get; }

    /// <summary>The model name as a JSON string token (quoted, escaped), spliced into each request.</summary>
    public byte[] ModelJsonToken { get; }

    // The key stays out of every string form of the deployment.
    public override string ToString() => $"{Name} ({Provider}, {Model})";
}
