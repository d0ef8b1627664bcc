using System.Globalization;
using System.Text.RegularExpressions;

namespace Aspire.Hosting;

public static class ContainerAppResourceBuilderExtensions
{
    /// <summary>
    /// Published, the service is deployed to Azure Container Apps by a Bicep module the AppHost writes beside
    /// the manifest (<c>{name}.module.bicep</c>, the project's <c>deployment</c> in the manifest, which azd
    /// deploys with the service's image). azd's own template for a project says nothing of probes, replica
    /// counts or how long a stopping replica may drain; this module says all three, from the app model:
    /// the resource's probes, its <c>WithReplicas</c> count and its <c>Shutdown:*</c> settings.
    /// </summary>
    public static IResourceBuilder<ProjectResource> PublishAsContainerApp(this IResourceBuilder<ProjectResource> service, IDistributedApplicationBuilder builder)
    {
        if (builder.ExecutionContext.IsPublishMode)
        {
            service.WithAnnotation(new DeploymentTargetAnnotation(new ContainerAppModule(service.Resource, builder.Resources)));
        }
        return service;
    }
}

/// <summary>The Bicep module of one project's container app, written when the manifest is published.</summary>
internal sealed partial class ContainerAppModule : Resource
{
    /// <summary>ACA's own defaults when the app model names no replica count: one replica at least, scaled out on load.</summary>
    private const int DefaultMinReplicas = 1;
    private const int DefaultMaxReplicas = 10;

    /// <summary>A replica's grace after SIGTERM beyond its drain and flush (ServiceDefaults' defaults: 30 s and 15 s).</summary>
    private const int GraceMarginSeconds = 5;

    private readonly ProjectResource _project;
    private readonly IEnumerable<IResource> _model;

    public ContainerAppModule(ProjectResource project, IEnumerable<IResource> model) : base(project.Name + "-containerapp")
    {
        _project = project;
        _model = model;
        Annotations.Add(new ManifestPublishingCallbackAnnotation(WriteAsync));
    }

    public static string FileName(string service) => $"{service}.module.bicep";

    private async Task WriteAsync(Aspire.Hosting.Publishing.ManifestPublishingContext context)
    {
        var environment = await EnvironmentAsync(context);
        var name = _project.Name;
        var identifier = Identifier(name);
        var parameters = new List<(string Name, string Expression, bool Secure)>
        {
            ($"{identifier}_containerimage", $"{{{name}.containerImage}}", false),
            ($"{identifier}_containerport", $"{{{name}.containerPort}}", false),
            ("outputs_azure_container_apps_environment_id", "{.outputs.AZURE_CONTAINER_APPS_ENVIRONMENT_ID}", false),
            ("outputs_azure_container_registry_endpoint", "{.outputs.AZURE_CONTAINER_REGISTRY_ENDPOINT}", false),
            ("outputs_azure_container_registry_managed_identity_id", "{.outputs.AZURE_CONTAINER_REGISTRY_MANAGED_IDENTITY_ID}", false),
            ("outputs_managed_identity_client_id", "{.outputs.MANAGED_IDENTITY_CLIENT_ID}", false),
        };
        var variables = new List<(string Name, string Parameter, string? Secret)>();
        foreach (var (variable, expression) in environment)
        {
            var parameter = "env_" + Identifier(variable);
            if (parameters.Any(p => p.Name == parameter))
            {
                throw new InvalidOperationException($"The environment variables of '{name}' collide as Bicep parameter '{parameter}'; rename '{variable}'.");
            }
            var secure = IsSecret(expression);
            parameters.Add((parameter, expression, secure));
            variables.Add((variable, parameter, secure ? SecretName(variable) : null));
        }

        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(context.ManifestPath!))!, FileName(name));
        await File.WriteAllTextAsync(path, Bicep(name, parameters, variables, environment), context.CancellationToken);

        var writer = context.Writer;
        writer.WriteString("type", "azure.bicep.v0");
        writer.WriteString("path", context.GetManifestRelativePath(path));
        writer.WriteStartObject("params");
        foreach (var (parameter, expression, _) in parameters)
        {
            writer.WriteString(parameter, expression);
        }
        writer.WriteEndObject();
    }

    /// <summary>The service's environment as the manifest writes it: literal values, or expressions such as <c>{cache.connectionString}</c>.</summary>
    private async Task<List<(string Name, string Expression)>> EnvironmentAsync(Aspire.Hosting.Publishing.ManifestPublishingContext context)
    {
        var values = new Dictionary<string, object>();
        var callbackContext = new EnvironmentCallbackContext(context.ExecutionContext, _project, values, context.CancellationToken);
        foreach (var callback in _project.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(callbackContext);
        }
        return values.Select(v => (v.Key, v.Value switch
        {
            string text => text,
            IManifestExpressionProvider provider => provider.ValueExpression,
            var other => other.ToString() ?? "",
        })).ToList();
    }

    /// <summary>A credential: it names a secret parameter's value or a connection string (which holds a password).</summary>
    private bool IsSecret(string expression) => References().Matches(expression).Any(reference =>
        reference.Groups[2].Value == "connectionString"
        || _model.OfType<ParameterResource>().Any(p => p.Secret && p.Name == reference.Groups[1].Value));

    [GeneratedRegex(@"\{([A-Za-z0-9-]+)\.(value|connectionString)\}")]
    private static partial Regex References();

    private string Bicep(string name, List<(string Name, string Expression, bool Secure)> parameters, List<(string Name, string Parameter, string? Secret)> variables,
        List<(string Name, string Expression)> environment)
    {
        var identifier = Identifier(name);
        var port = $"int({identifier}_containerport)";
        var external = _project.Annotations.OfType<EndpointAnnotation>().Any(e => e.IsExternal);
        var (minReplicas, maxReplicas) = _project.Annotations.OfType<ReplicaAnnotation>().LastOrDefault() is { } replicas
            ? (replicas.Replicas, replicas.Replicas)
            : (DefaultMinReplicas, DefaultMaxReplicas);
        int Seconds(string variable, int fallback) =>
            int.TryParse(environment.FirstOrDefault(e => e.Name == variable).Expression, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;
        var grace = Math.Min(600, Seconds("Shutdown__DrainTimeoutSeconds", 30) + Seconds("Shutdown__FlushTimeoutSeconds", 15) + GraceMarginSeconds);

        var parameterLines = string.Concat(parameters.Select(p => $"{(p.Secure ? "@secure()\n" : "")}param {p.Name} string\n"));
        var secretLines = string.Concat(variables.Where(v => v.Secret is not null).Select(v => $"        {{ name: '{v.Secret}', value: {v.Parameter} }}\n"));
        var environmentLines = string.Concat(variables.Select(v => v.Secret is null
            ? $"            {{ name: '{v.Name}', value: {v.Parameter} }}\n"
            : $"            {{ name: '{v.Name}', secretRef: '{v.Secret}' }}\n"));
#pragma warning disable ASPIREPROBES001 // the app model's probes, read as its publishers read them
        var probeLines = string.Concat(_project.Annotations.OfType<EndpointProbeAnnotation>().Select(probe => $$"""
                        {
                          type: '{{probe.Type}}'
                          httpGet: { path: '{{probe.Path}}', port: {{port}} }
                          initialDelaySeconds: {{probe.InitialDelaySeconds}}
                          periodSeconds: {{probe.PeriodSeconds}}
                          timeoutSeconds: {{probe.TimeoutSeconds}}
                          failureThreshold: {{probe.FailureThreshold}}
                        }

            """));
#pragma warning restore ASPIREPROBES001

        // Internal apps allow plain HTTP: inside the environment services call each other by service discovery's http URL.
        // The grace period is long enough for a replica to drain its requests and streams and write its usage records.
        return $$"""
            // Written by AgentPlatform.AppHost when it publishes its manifest: the container app '{{name}}'.
            @description('The location for the resource(s) to be deployed.')
            param location string = resourceGroup().location

            {{parameterLines}}
            resource {{identifier}} 'Microsoft.App/containerApps@2024-03-01' = {
              name: '{{name}}'
              location: location
              properties: {
                configuration: {
                  activeRevisionsMode: 'Single'
                  ingress: {
                    external: {{(external ? "true" : "false")}}
                    targetPort: {{port}}
                    transport: 'http'
                    allowInsecure: {{(external ? "false" : "true")}}
                  }
                  registries: [
                    {
                      server: outputs_azure_container_registry_endpoint
                      identity: outputs_azure_container_registry_managed_identity_id
                    }
                  ]
                  secrets: [
            {{secretLines}}      ]
                }
                environmentId: outputs_azure_container_apps_environment_id
                template: {
                  containers: [
                    {
                      image: {{identifier}}_containerimage
                      name: '{{name}}'
                      env: [
                        { name: 'AZURE_CLIENT_ID', value: outputs_managed_identity_client_id }
            {{environmentLines}}          ]
                      probes: [
            {{probeLines}}          ]
                    }
                  ]
                  scale: { minReplicas: {{minReplicas}}, maxReplicas: {{maxReplicas}} }
                  terminationGracePeriodSeconds: {{grace}}
                }
              }
              identity: {
                type: 'UserAssigned'
                userAssignedIdentities: {
                  '${outputs_azure_container_registry_managed_identity_id}': {}
                }
              }
              tags: { 'azd-service-name': '{{name}}', 'aspire-resource-name': '{{name}}' }
            }

            """;
    }

    /// <summary>A Bicep identifier: letters, digits and underscores.</summary>
    private static string Identifier(string text) => Regex.Replace(text.ToLowerInvariant(), "[^a-z0-9_]", "_");

    /// <summary>A Container Apps secret name: lowercase letters, digits and hyphens, from the variable it fills.</summary>
    private static string SecretName(string variable) => Regex.Replace(variable.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-');
}
