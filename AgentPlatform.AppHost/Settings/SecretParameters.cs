using System.Text;

namespace Aspire.Hosting;

/// <summary>
/// Credentials as secret parameters, never as plain environment values: run locally, a parameter takes
/// its value from the AppHost's configuration (user secrets); published, the manifest holds only the
/// parameter, which azd prompts for and keeps as a Container Apps secret.
/// </summary>
public static class SecretParameters
{
    /// <summary>
    /// The secret parameter <paramref name="name"/> (made once, shared by whoever asks again). Its value
    /// is <paramref name="value"/> when the configuration holds one (never published), else
    /// <c>Parameters:{name}</c>. Run locally with neither, there is nothing to pass: null.
    /// </summary>
    public static IResourceBuilder<ParameterResource>? AddSecretParameter(this IDistributedApplicationBuilder builder, string name, string? value)
    {
        if (builder.Resources.OfType<ParameterResource>().FirstOrDefault(p => p.Name == name) is { } existing)
        {
            return builder.CreateResourceBuilder(existing);
        }
        if (!string.IsNullOrEmpty(value))
        {
            return builder.AddParameter(name, value, publishValueAsDefault: false, secret: true);
        }
        if (builder.ExecutionContext.IsPublishMode || !string.IsNullOrEmpty(builder.Configuration[$"Parameters:{name}"]))
        {
            return builder.AddParameter(name, secret: true);
        }
        return null;
    }

    /// <summary>
    /// A parameter name made from a configuration key or a deployment's name: lowercase letters, digits
    /// and single hyphens, starting with a letter (what resource names and azd's inputs allow).
    /// </summary>
    public static string NameFrom(string text)
    {
        var name = new StringBuilder(text.Length);
        foreach (var c in text.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                name.Append(c);
            }
            else if (name.Length > 0 && name[^1] != '-')
            {
                name.Append('-');
            }
        }
        var result = name.ToString().Trim('-');
        if (result.Length == 0 || !char.IsAsciiLetter(result[0]))
        {
            result = "p-" + result;
        }
        if (result.Length > 64)
        {
            throw new InvalidOperationException($"The parameter name '{result}' (from '{text}') is longer than 64 characters; choose a shorter name.");
        }
        return result;
    }
}
