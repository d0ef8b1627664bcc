using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Simulator.Completions;

namespace AgentPlatform.Simulator;

/// <summary>Checks the key a client sent against <c>Simulator:ApiKey</c>, in the header its provider uses.</summary>
public static class SimulatorAuth
{
    /// <summary>True when no key is configured, or <paramref name="header"/> holds <paramref name="prefix"/> + the key.</summary>
    public static bool IsAuthorized(HttpContext context, SimulatorOptions options, string header, string prefix) =>
        string.IsNullOrEmpty(options.ApiKey)
        || context.Request.Headers[header].ToString() == prefix + options.ApiKey;

    /// <summary>OpenAI's refusal of a request without the right bearer key, written; null when the key is right.</summary>
    public static Task? RefuseOpenAI(HttpContext context, SimulatorOptions options)
    {
        if (IsAuthorized(context, options, "Authorization", "Bearer "))
        {
            return null;
        }
        // As OpenAI does, the message shows the key's last characters: a gateway must not pass it on.
        var presented = context.Request.Headers.Authorization.ToString();
        var hint = presented.Length > 4 ? presented[^4..] : "";
        return OpenAIWire.Instance.WriteErrorAsync(context, StatusCodes.Status401Unauthorized,
            $"Incorrect API key provided: sk-****{hint}. You can find your API key in your account settings.", OpenAIError.Authentication, "invalid_api_key");
    }

    /// <summary>
    /// Azure OpenAI's refusal of a request without an api-version (which its v1 API, <paramref name="requireApiVersion"/>
    /// false, does without) or the right api-key, written; null when both are there.
    /// </summary>
    public static Task? RefuseAzure(HttpContext context, SimulatorOptions options, bool requireApiVersion = true)
    {
        if (requireApiVersion && string.IsNullOrEmpty(context.Request.Query["api-version"]))
        {
            return OpenAIWire.Instance.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "Missing required query parameter: api-version.", OpenAIError.InvalidRequest, "missing_api_version");
        }
        return IsAuthorized(context, options, "api-key", "")
            ? null
            : OpenAIWire.Instance.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "Access denied due to invalid subscription key or wrong API endpoint.", OpenAIError.Authentication, "401");
    }
}
